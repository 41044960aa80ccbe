//! Independent parsers, written from the specifications, sharing no code with the
//! encoders in `src/`. They are the judges of the property tests.
//!
//! - CEF: "Implementing ArcSight CEF" (header split on unescaped `|`, escapes `\\` `\|`;
//!   extension keys are the word before each unescaped `=`, values run to the space
//!   before the next key; escapes `\\` `\=` `\n` `\r`).
//! - LEEF: IBM "LEEF event components" (pipe header; 2.0 field 6 is the delimiter, one
//!   character or `x`/`0x` + hex; attributes split on the delimiter, key before the first `=`).
//! - RFC 5424 §6 (header fields separated by single spaces, STRUCTURED-DATA with
//!   `\"` `\\` `\]` escapes, a backslash before anything else kept literally).

use std::collections::BTreeMap;

/// A parsed CEF record.
#[derive(Debug)]
pub(crate) struct Cef {
    pub header: Vec<String>,
    pub ext: BTreeMap<String, String>,
    /// Keys in order of appearance (to detect duplicates).
    pub keys: Vec<String>,
}

pub(crate) fn parse_cef(line: &str) -> Result<Cef, String> {
    let rest = line.strip_prefix("CEF:").ok_or("no CEF: prefix")?;
    let mut header = Vec::new();
    let mut cur = String::new();
    let mut chars = rest.chars();
    while header.len() < 7 {
        match chars.next() {
            None => return Err(format!("header has only {} fields", header.len())),
            Some('\\') => match chars.next() {
                Some(c @ ('\\' | '|')) => cur.push(c),
                other => return Err(format!("bad header escape \\{other:?}")),
            },
            Some('|') => header.push(std::mem::take(&mut cur)),
            Some(c) => cur.push(c),
        }
    }
    let ext_text: Vec<char> = chars.collect();
    // Positions of unescaped '='.
    let mut eqs = Vec::new();
    let mut i = 0;
    while i < ext_text.len() {
        match ext_text[i] {
            '\\' => i += 2,
            '=' => {
                eqs.push(i);
                i += 1;
            }
            _ => i += 1,
        }
    }
    // Key i starts after the last space before eqs[i] (or at 0).
    let mut starts = Vec::new();
    for &eq in &eqs {
        let mut s = eq;
        while s > 0 && ext_text[s - 1] != ' ' {
            s -= 1;
        }
        starts.push(s);
    }
    let mut ext = BTreeMap::new();
    let mut keys = Vec::new();
    for k in 0..eqs.len() {
        let key: String = ext_text[starts[k]..eqs[k]].iter().collect();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!("bad key {key:?}"));
        }
        let end = if k + 1 < eqs.len() {
            // The single space separating pairs is not part of the value.
            starts[k + 1].checked_sub(1).ok_or("no space before key")?
        } else {
            ext_text.len()
        };
        let raw = &ext_text[eqs[k] + 1..end];
        let mut v = String::new();
        let mut j = 0;
        while j < raw.len() {
            if raw[j] == '\\' {
                match raw.get(j + 1) {
                    Some('\\') => v.push('\\'),
                    Some('=') => v.push('='),
                    Some('n') => v.push('\n'),
                    Some('r') => v.push('\r'),
                    other => return Err(format!("bad extension escape \\{other:?} in {key}")),
                }
                j += 2;
            } else {
                v.push(raw[j]);
                j += 1;
            }
        }
        keys.push(key.clone());
        ext.insert(key, v);
    }
    if starts.first().is_some_and(|&s| s != 0) {
        return Err("text before the first key".into());
    }
    Ok(Cef { header, ext, keys })
}

/// A parsed LEEF record.
#[derive(Debug)]
pub(crate) struct Leef {
    pub version: String,
    pub header: Vec<String>,
    pub delimiter: char,
    pub attrs: BTreeMap<String, String>,
    pub keys: Vec<String>,
}

pub(crate) fn parse_leef(line: &str) -> Result<Leef, String> {
    let rest = line.strip_prefix("LEEF:").ok_or("no LEEF: prefix")?;
    let (version, rest) = rest.split_once('|').ok_or("no version")?;
    let nfields = match version {
        "1.0" => 4,
        "2.0" => 5,
        v => return Err(format!("unknown version {v}")),
    };
    let mut parts = rest.splitn(nfields + 1, '|');
    let mut header = Vec::new();
    for _ in 0..nfields {
        header.push(parts.next().ok_or("short header")?.to_owned());
    }
    let attrs_text = parts.next().ok_or("no attributes")?;
    let delimiter = if version == "1.0" {
        '\t'
    } else {
        let f = &header[4];
        let hex = f.strip_prefix("0x").or_else(|| f.strip_prefix('x'));
        match (hex, f.chars().count()) {
            (_, 1) => f.chars().next().ok_or("empty")?,
            (Some(h), _) => char::from_u32(u32::from_str_radix(h, 16).map_err(|e| e.to_string())?)
                .ok_or("bad hex delimiter")?,
            _ => return Err(format!("bad delimiter field {f:?}")),
        }
    };
    let mut attrs = BTreeMap::new();
    let mut keys = Vec::new();
    for pair in attrs_text.split(delimiter) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("no = in {pair:?}"))?;
        keys.push(k.to_owned());
        attrs.insert(k.to_owned(), v.to_owned());
    }
    Ok(Leef {
        version: version.to_owned(),
        header,
        delimiter,
        attrs,
        keys,
    })
}

/// A parsed RFC 5424 message.
#[derive(Debug)]
pub(crate) struct Syslog5424 {
    pub pri: u32,
    pub timestamp: String,
    pub hostname: String,
    pub app_name: String,
    pub procid: String,
    pub msgid: String,
    /// (SD-ID, [(name, value)])
    pub sd: Vec<(String, Vec<(String, String)>)>,
    pub msg: String,
}

pub(crate) fn parse_5424(line: &str) -> Result<Syslog5424, String> {
    let rest = line.strip_prefix('<').ok_or("no PRI")?;
    let (pri, rest) = rest.split_once('>').ok_or("unterminated PRI")?;
    if pri.is_empty() || pri.len() > 3 || (pri.len() > 1 && pri.starts_with('0')) {
        return Err(format!("bad PRI {pri:?}"));
    }
    let pri: u32 = pri.parse().map_err(|_| "PRI not a number")?;
    if pri > 191 {
        return Err("PRI > 191".into());
    }
    let rest = rest.strip_prefix("1 ").ok_or("VERSION is not 1")?;
    let mut it = rest.splitn(6, ' ');
    let mut next = |what: &str| -> Result<String, String> {
        let f = it.next().ok_or_else(|| format!("missing {what}"))?;
        if f.is_empty() || !f.bytes().all(|b| (33..=126).contains(&b)) {
            return Err(format!("{what} not printable ASCII: {f:?}"));
        }
        Ok(f.to_owned())
    };
    let timestamp = next("TIMESTAMP")?;
    let hostname = next("HOSTNAME")?;
    let app_name = next("APP-NAME")?;
    let procid = next("PROCID")?;
    let msgid = next("MSGID")?;
    let sd_and_msg: Vec<char> = it
        .next()
        .ok_or("missing STRUCTURED-DATA")?
        .chars()
        .collect();
    let mut sd = Vec::new();
    let mut i = 0;
    if sd_and_msg.first() == Some(&'-') {
        i = 1;
    } else {
        while sd_and_msg.get(i) == Some(&'[') {
            i += 1;
            let start = i;
            while i < sd_and_msg.len() && sd_and_msg[i] != ' ' && sd_and_msg[i] != ']' {
                i += 1;
            }
            let id: String = sd_and_msg[start..i].iter().collect();
            let mut params = Vec::new();
            while sd_and_msg.get(i) == Some(&' ') {
                i += 1;
                let ns = i;
                while i < sd_and_msg.len() && sd_and_msg[i] != '=' {
                    i += 1;
                }
                let name: String = sd_and_msg[ns..i].iter().collect();
                if sd_and_msg.get(i + 1) != Some(&'"') {
                    return Err("PARAM-VALUE not quoted".into());
                }
                i += 2;
                let mut v = String::new();
                loop {
                    match sd_and_msg.get(i) {
                        None => return Err("unterminated PARAM-VALUE".into()),
                        Some('"') => break,
                        Some('\\') => match sd_and_msg.get(i + 1) {
                            Some(&c @ ('"' | '\\' | ']')) => {
                                v.push(c);
                                i += 1;
                            }
                            _ => v.push('\\'),
                        },
                        Some(']') => return Err("unescaped ] in PARAM-VALUE".into()),
                        Some(&c) => v.push(c),
                    }
                    i += 1;
                }
                i += 1;
                params.push((name, v));
            }
            if sd_and_msg.get(i) != Some(&']') {
                return Err("unterminated SD-ELEMENT".into());
            }
            i += 1;
            sd.push((id, params));
        }
    }
    let msg: String = match sd_and_msg.get(i) {
        None => String::new(),
        Some(' ') => sd_and_msg[i + 1..].iter().collect(),
        Some(c) => return Err(format!("junk {c:?} after STRUCTURED-DATA")),
    };
    Ok(Syslog5424 {
        pri,
        timestamp,
        hostname,
        app_name,
        procid,
        msgid,
        sd,
        msg,
    })
}
