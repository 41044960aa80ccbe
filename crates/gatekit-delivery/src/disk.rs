//! The durable disk buffer.
//!
//! Job: keep records across process crashes and restarts until a destination acknowledged
//! them, in bounded space, and reopen by itself after a crash.
//!
//! # On-disk format (version 1)
//!
//! A buffer owns one directory:
//!
//! - `<seq:016x>.seg`: segment files, `seq` increasing. Each starts with the 8-byte magic
//!   `GKDSEG01`, followed by records:
//!
//!   | bytes | field |
//!   |---|---|
//!   | 4 | body length `n`, u32 little-endian (24 ..= 64 MiB; `append` refuses larger records) |
//!   | 4 | CRC32 (IEEE, `crc32fast`) of the body, u32 little-endian |
//!   | 16 | record id, u128 little-endian (body starts here) |
//!   | 8 | enqueue time, microseconds since the Unix epoch, u64 little-endian |
//!   | n-24 | payload, opaque |
//!
//!   Segments are append-only. A new segment starts when the next record would push the
//!   current one past `segment_bytes` (a larger single record gets a segment to itself), after
//!   any write or fsync error, and after every restart: a process never appends to a file a
//!   previous process wrote, so a torn tail can only be at the end of an old file.
//! - `seals`: the advisory seal index (see `seals.rs`): final length and record count of each
//!   sealed segment, so recovery can count the records a truncated, emptied or deleted
//!   segment lost.
//! - `lock`: the PID of the process that has the directory open (see `lock.rs`); a second
//!   opener is refused, a stale lock (its process is gone) is taken over.
//! - `ack`: the acknowledged position, 28 bytes: magic `GKDACK01`, segment seq (u64 LE),
//!   byte offset (u64 LE), CRC32 of the preceding 24 bytes. Replaced atomically
//!   (write `ack.tmp`, fsync unless `fsync: never`, rename).
//!
//! # Guarantees
//!
//! - A record is removed only after the destination acknowledged it: the worker calls
//!   `ack_read` after a batch is delivered or dead-lettered; the ack position is persisted,
//!   and only then are segments wholly before it deleted (ack-before-delete, decision 0201).
//! - Under `fsync: always` an accepted append is durable when `append` returns; under
//!   `interval` at most `fsync_interval_ms` of appends can be lost to a power failure (none to
//!   a process crash: the data is in the page cache); under `never` the OS decides.
//! - Total segment bytes never exceed `max_bytes`; `append` reports `Full` instead.
//! - Write, fsync and ack errors are returned and counted (`DiskStats`), never swallowed.
//! - A record larger than the format allows (`MAX_PAYLOAD_LEN`) is refused by `append`
//!   (`AppendStop::TooLarge`), never written.
//! - A read error never loses records already gathered into a batch. A segment that cannot
//!   be opened or read is retried on later reads, then (after three failures in a row, or at
//!   once if the file is gone) skipped and counted: `DiskStats::unreadable_segments` and an
//!   estimate of its records in `unreadable_events`. At open such a segment is skipped and
//!   counted the same way instead of failing the open.
//!
//! # Reading
//!
//! Records are read back in order from the segment files. The last 4 MiB of appends made
//! through `append_vec` are also kept in memory (`tail.rs`) and served when the reader's
//! position equals a cached record's start exactly, so a destination that keeps up costs no
//! read I/O; the cache never changes what is read.
//!
//! # Recovery
//!
//! On open: leftover `*.tmp` files are removed; the ack file is read (if it is missing or
//! invalid, reading starts at the oldest segment: duplicates, never loss) and checked: an
//! ack that points past the data, into a missing segment or inside a record is refused
//! (`RecoveryReport::ack_refused`) instead of deleting the backlog; segments before an
//! accepted ack are deleted (their deletion was interrupted); gaps in the segment sequence
//! are reported; the unread records are counted. Reading validates each record's length
//! and CRC. A damaged segment header is skipped and the records after it are kept. A torn or
//! corrupt region is skipped up to the next offset where a complete record with a valid
//! checksum starts (or the end of the file) and counted in `corrupt_regions`; everything else
//! is delivered. Every damaged region, empty, missing or unreadable segment found at open is
//! logged with its segment and offset and listed in `RecoveryReport::losses`
//! (`buffer/recover.rs`).
//!
//! Files are created 0600 and the directory 0700 (`crate::private`); wider existing ones are
//! tightened at open with a warning.
//! Records acknowledged after the last persisted ack are delivered again (at-least-once;
//! receivers de-duplicate on the record id).

mod buffer;
mod format;
mod fs;
mod lock;
mod reader;
mod scan;
mod seals;
mod tail;
mod types;

pub use buffer::DiskBuffer;
pub use format::{encoded_len, segment_name, MAX_PAYLOAD_LEN, SEGMENT_HEADER_LEN};
pub use fs::{FileSystem, SegmentFile, SegmentRead, StdFs};
pub use lock::{dir_owner_alive, process_start_time};
pub use scan::{scan_dir, Scan, ScanError, ScanOptions};
pub use types::{
    AckDone, AckJob, AppendStop, Appended, DiskError, DiskStats, LossKind, Mark, RecoveryLoss,
    RecoveryReport, SyncJob,
};
