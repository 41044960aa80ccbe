//! The hash chain that makes an audit stream tamper-evident, and its verifier.
//!
//! Each record is a JSON object written on one line. With the chain on, the writer computes
//! `hash = SHA-256(prev_hash || "\n" || body)` over the exact bytes of the record's JSON
//! without the chain (`body`), and appends the link as the object's last member:
//! `,"hash_chain":{"prev_hash":"<64 hex>","hash":"<64 hex>"}}`. The first record of a chain
//! has `prev_hash` = [`GENESIS`]. Because the link is the last member and its length is fixed,
//! a verifier recovers `body` exactly by cutting the suffix off: no re-serialisation, so no
//! question of key order or number formatting.
//!
//! Every writer (each gateway process, each destination) keeps its own chain, started at
//! [`GENESIS`]; several chains may interleave in one file. The verifier therefore checks that
//! every record's hash is right, that its `prev_hash` is [`GENESIS`] or the hash of an
//! *earlier* record, and that no record is the predecessor of two. It finds a changed record
//! (hash mismatch), a removed or reordered one (a predecessor missing or later), and a
//! duplicated or forked one (two successors). It cannot see the removal of a whole chain or of
//! a chain's last records: compare the counts with another copy (the SIEM's) for that.

use std::collections::{HashMap, HashSet};

/// `prev_hash` of the first record of a chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const HEAD: &str = ",\"hash_chain\":{\"prev_hash\":\"";
const MIDDLE: &str = "\",\"hash\":\"";
const TAIL: &str = "\"}}";
/// Length of the appended link: head, 64 hex, middle, 64 hex, tail.
const SUFFIX_LEN: usize = HEAD.len() + 64 + MIDDLE.len() + 64 + TAIL.len();

/// The hash of `body` linked to `prev` (64 lower-case hex digits each).
pub fn link(prev: &str, body: &[u8]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(prev.as_bytes());
    ctx.update(b"\n");
    ctx.update(body);
    hex(ctx.finish().as_ref())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// One writer's chain: the hash of its last record.
#[derive(Debug, Clone)]
pub struct Chain {
    prev: String,
}

impl Default for Chain {
    fn default() -> Self {
        Chain {
            prev: GENESIS.to_string(),
        }
    }
}

impl Chain {
    /// The link for the next record, whose JSON without the chain is `body`: `(prev_hash,
    /// hash)`. Call [`Chain::commit`] once the record is written, so that a record that could
    /// not be written does not become anyone's predecessor.
    pub fn next(&self, body: &[u8]) -> (String, String) {
        (self.prev.clone(), link(&self.prev, body))
    }

    /// The record with `hash` was written: it is the predecessor of the next.
    pub fn commit(&mut self, hash: String) {
        self.prev = hash;
    }

    /// `object` (one JSON object, ending in `}`) with its link appended as the last member;
    /// the chain moves on. For writers that cannot fail between linking and writing.
    pub fn append_to(&mut self, object: &str) -> String {
        let (prev, hash) = self.next(object.as_bytes());
        let line = with_link(object, &prev, &hash);
        self.commit(hash);
        line
    }
}

/// `object` with `,"hash_chain":{...}` inserted before its closing brace.
pub fn with_link(object: &str, prev: &str, hash: &str) -> String {
    let open = object.strip_suffix('}').unwrap_or(object);
    let mut line = String::with_capacity(object.len() + SUFFIX_LEN);
    line.push_str(open);
    line.push_str(HEAD);
    line.push_str(prev);
    line.push_str(MIDDLE);
    line.push_str(hash);
    line.push_str(TAIL);
    line
}

/// A chained record taken apart: the JSON it was hashed over, and its link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linked<'a> {
    /// The record without its link (what `hash` covers).
    pub body: String,
    /// The predecessor's hash.
    pub prev_hash: &'a str,
    /// This record's hash as written.
    pub hash: &'a str,
}

/// Splits a JSON object line whose last member is the link; `None` when it has none.
pub fn split(line: &str) -> Option<Linked<'_>> {
    let line = line.trim_end_matches(['\n', '\r']);
    if line.len() < SUFFIX_LEN + 1 || !line.is_char_boundary(line.len() - SUFFIX_LEN) {
        return None;
    }
    let (open, suffix) = line.split_at(line.len() - SUFFIX_LEN);
    let rest = suffix.strip_prefix(HEAD)?;
    let (prev_hash, rest) = rest.split_at(64);
    let rest = rest.strip_prefix(MIDDLE)?;
    let (hash, rest) = rest.split_at(64);
    if rest != TAIL || !is_hex(prev_hash) || !is_hex(hash) {
        return None;
    }
    Some(Linked {
        body: format!("{open}}}"),
        prev_hash,
        hash,
    })
}

fn is_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// One problem the verifier found, at `record` (0-based position in the stream given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The record's content does not match its hash: it was changed.
    Changed {
        /// Position of the record.
        record: usize,
    },
    /// The record's predecessor is not an earlier record: records before it were removed,
    /// or records were reordered.
    MissingPredecessor {
        /// Position of the record.
        record: usize,
    },
    /// A record is the predecessor of two: a record was duplicated or a chain forked.
    Fork {
        /// Position of the second successor.
        record: usize,
    },
    /// A record has no link although the stream is chained.
    Unlinked {
        /// Position of the record.
        record: usize,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Changed { record } => {
                write!(f, "record {record}: content does not match its hash (changed)")
            }
            Problem::MissingPredecessor { record } => write!(
                f,
                "record {record}: its predecessor is missing or comes later (records removed or reordered; give older rotated files first)"
            ),
            Problem::Fork { record } => write!(
                f,
                "record {record}: follows a record that already has a successor (duplicated or inserted)"
            ),
            Problem::Unlinked { record } => {
                write!(f, "record {record}: no hash_chain link in a chained stream")
            }
        }
    }
}

/// What the verifier saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Records read.
    pub records: usize,
    /// Chains found (records with the genesis predecessor).
    pub chains: usize,
    /// Everything wrong, in stream order.
    pub problems: Vec<Problem>,
}

impl Report {
    /// Whether the stream verified.
    pub fn ok(&self) -> bool {
        self.problems.is_empty() && self.records > 0
    }
}

/// Verifies records given as JSON object texts, in stream order.
pub fn verify<'a>(records: impl IntoIterator<Item = &'a str>) -> Report {
    let mut report = Report::default();
    // Hashes seen so far, and those that already have a successor.
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut followed: HashSet<String> = HashSet::new();
    for (i, text) in records.into_iter().enumerate() {
        report.records += 1;
        let Some(linked) = split(text) else {
            report.problems.push(Problem::Unlinked { record: i });
            continue;
        };
        if link(linked.prev_hash, linked.body.as_bytes()) != linked.hash {
            report.problems.push(Problem::Changed { record: i });
        }
        if linked.prev_hash == GENESIS {
            report.chains += 1;
        } else if !seen.contains_key(linked.prev_hash) {
            report
                .problems
                .push(Problem::MissingPredecessor { record: i });
        } else if !followed.insert(linked.prev_hash.to_string()) {
            report.problems.push(Problem::Fork { record: i });
        }
        seen.insert(linked.hash.to_string(), i);
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream_of(writer: &str, n: usize) -> Vec<String> {
        let mut chain = Chain::default();
        (0..n)
            .map(|i| {
                chain.append_to(&format!(
                    "{{\"n\":{i},\"w\":\"{writer}\",\"text\":\"a|b=c\\\\d\"}}"
                ))
            })
            .collect()
    }

    fn stream(n: usize) -> Vec<String> {
        stream_of("a", n)
    }

    fn check(lines: &[String]) -> Report {
        verify(lines.iter().map(String::as_str))
    }

    #[test]
    fn an_untouched_stream_verifies_and_splits_back_exactly() {
        let lines = stream(5);
        let report = check(&lines);
        assert!(report.ok(), "{report:?}");
        assert_eq!((report.records, report.chains), (5, 1));
        let first = split(&lines[0]).unwrap();
        assert_eq!(first.body, "{\"n\":0,\"w\":\"a\",\"text\":\"a|b=c\\\\d\"}");
        assert_eq!(first.prev_hash, GENESIS);
        let parsed: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(parsed["hash_chain"]["prev_hash"], first.hash);
    }

    #[test]
    fn every_kind_of_tampering_is_found() {
        let lines = stream(5);
        let mut changed = lines.clone();
        changed[2] = changed[2].replace("\"n\":2", "\"n\":9");
        assert_eq!(check(&changed).problems, [Problem::Changed { record: 2 }]);
        let mut removed = lines.clone();
        removed.remove(2);
        assert_eq!(
            check(&removed).problems,
            [Problem::MissingPredecessor { record: 2 }]
        );
        let mut reordered = lines.clone();
        reordered.swap(1, 3);
        assert!(check(&reordered)
            .problems
            .contains(&Problem::MissingPredecessor { record: 1 }));
        let mut duplicated = lines.clone();
        duplicated.insert(3, lines[2].clone());
        assert!(check(&duplicated)
            .problems
            .contains(&Problem::Fork { record: 3 }));
        let mut unlinked = lines.clone();
        unlinked[4] = "{\"n\":4}".into();
        assert_eq!(check(&unlinked).problems, [Problem::Unlinked { record: 4 }]);
    }

    #[test]
    fn interleaved_chains_of_two_writers_verify() {
        let (a, b) = (stream_of("a", 3), stream_of("b", 3));
        let mixed = vec![
            a[0].clone(),
            b[0].clone(),
            a[1].clone(),
            b[1].clone(),
            b[2].clone(),
            a[2].clone(),
        ];
        let report = check(&mixed);
        assert!(report.ok(), "{report:?}");
        assert_eq!(report.chains, 2);
    }
}
