//! Where a dotted key path (`siem.platforms.splunk.hec.endpoint`) sits in YAML text, for
//! errors found after parsing (by validation of a section that was kept as a YAML value, such
//! as `siem`), which the parser's own locations cannot cover.
//!
//! The search walks the path one key at a time, each inside the block of its parent: a block
//! key owns the lines below it that are indented deeper; a key in a flow mapping
//! (`hec: {endpoint: ...}`) owns the rest of its line and the deeper lines after it. When a key
//! is missing (an error about a key that must be added), the deepest parent found is reported:
//! the line to edit. List indexes (`upstreams[2]`) are skipped: the key after one is searched
//! in the whole list. This is a locator for messages, never a parser: it reads comments and
//! quoted text as the YAML does not, and at worst it points at a nearby line.

/// 1-based line and column of the key at `path`, or of its deepest parent found.
pub fn find(text: &str, path: &str) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    // The block being searched: lines [start, end), and the column from which keys count on
    // the first line (for flow mappings).
    let (mut start, mut end, mut from_col) = (0usize, lines.len(), 0usize);
    let mut found = None;
    for segment in path.split('.') {
        let key = segment.split('[').next().unwrap_or(segment);
        if key.is_empty() {
            continue;
        }
        let Some((line, col)) = find_key(&lines, start, end, from_col, key) else {
            break;
        };
        found = Some((line + 1, col + 1));
        let indent = indentation(lines[line]);
        let rest = &lines[line][col + key.len()..];
        // The key's block: deeper-indented lines after it (block style), plus the rest of its
        // own line when its value is a flow mapping.
        start = line;
        from_col = col + key.len() + rest.find(':').map_or(0, |i| i + 1);
        end = (line + 1..lines.len())
            .find(|&i| {
                let l = lines[i];
                let t = l.trim_start();
                !t.is_empty()
                    && !t.starts_with('#')
                    && indentation(l) <= indent
                    && !t.starts_with("- ")
            })
            .unwrap_or(lines.len());
    }
    found
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The first `key:` in lines `[start, end)` (from column `from_col` on the first line) whose
/// key is preceded by the start of the line, indentation, `- `, `{` or `,`.
fn find_key(
    lines: &[&str],
    start: usize,
    end: usize,
    from_col: usize,
    key: &str,
) -> Option<(usize, usize)> {
    for (i, line) in lines.iter().enumerate().take(end).skip(start) {
        let offset = if i == start { from_col } else { 0 };
        if offset > line.len() || !line.is_char_boundary(offset) {
            continue;
        }
        let hay = &line[offset..];
        let mut search = 0;
        while let Some(pos) = hay[search..].find(key) {
            let at = search + pos;
            let before = hay[..at].trim_end_matches(['"', '\'']).chars().last();
            let after = hay[at + key.len()..].trim_start_matches(['"', '\'']);
            let boundary = matches!(before, None | Some(' ' | '\t' | '{' | ',' | '-'));
            if boundary && after.trim_start().starts_with(':') {
                return Some((i, offset + at));
            }
            search = at + key.len();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::find;

    const TEXT: &str = "\
proxy:
  transport: stdio
siem:
  splunk:
    transport: hec
    hec: {endpoint: 'http://x', token: t}
    delivery:
      batch_size: 0
  qradar:
    syslog:
      host: q
";

    #[test]
    fn finds_block_and_flow_keys_inside_their_parents() {
        assert_eq!(find(TEXT, "siem.splunk.transport"), Some((5, 5)));
        assert_eq!(find(TEXT, "siem.splunk.hec.endpoint"), Some((6, 11)));
        assert_eq!(find(TEXT, "siem.splunk.delivery.batch_size"), Some((8, 7)));
        assert_eq!(find(TEXT, "siem.qradar.syslog.host"), Some((11, 7)));
    }

    #[test]
    fn a_missing_key_points_at_its_deepest_parent() {
        // `splunk` has no `file`; the `host` under qradar must not be taken for it.
        assert_eq!(find(TEXT, "siem.splunk.file.path"), Some((4, 3)));
        assert_eq!(find(TEXT, "siem.qradar.rest_api.endpoint"), Some((9, 3)));
        assert_eq!(find("", "siem"), None);
    }
}
