//! The file-system seam of the disk buffer.
//!
//! Job: the few file operations the buffer performs on segments and the ack file, behind a
//! trait, so tests can inject torn writes, failed `fsync`, a full disk (the model-based
//! property test does) and segments that cannot be opened or read, while production uses
//! [`StdFs`]. Directory listing, `stat` and the ack read at open use `std::fs` directly.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::Path;

/// An append-only segment file open for writing.
pub trait SegmentFile: Send + fmt::Debug {
    /// Appends all of `buf`. On error an unknown prefix may have been written.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Makes written data durable (`fdatasync`).
    fn sync(&mut self) -> io::Result<()>;
    /// A second handle to the same file, so an fsync can run on another thread while this
    /// one keeps appending. `None` (the default) means "sync through [`SegmentFile::sync`]".
    fn sync_handle(&self) -> Option<File> {
        None
    }
}

/// A segment file open for reading.
pub trait SegmentRead: Read + Seek + Send + fmt::Debug {}

impl<T: Read + Seek + Send + fmt::Debug> SegmentRead for T {}

/// File operations used by the disk buffer.
pub trait FileSystem: Send + Sync + fmt::Debug {
    /// Creates a new segment file; fails if it exists.
    fn create_segment(&self, path: &Path) -> io::Result<Box<dyn SegmentFile>>;
    /// Replaces the file at `path` with `bytes` atomically (temp file + rename), syncing the
    /// temp file first when `sync` is set.
    fn write_atomic(&self, path: &Path, bytes: &[u8], sync: bool) -> io::Result<()>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Opens a segment file for reading. The default opens it with `std::fs`.
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn SegmentRead>> {
        Ok(Box::new(File::open(path)?))
    }
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdFs;

#[derive(Debug)]
struct StdSegment(File);

impl SegmentFile for StdSegment {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn sync_handle(&self) -> Option<File> {
        self.0.try_clone().ok()
    }
}

impl FileSystem for StdFs {
    fn create_segment(&self, path: &Path) -> io::Result<Box<dyn SegmentFile>> {
        let f = crate::private::file_options()
            .create_new(true)
            .append(true)
            .open(path)?;
        Ok(Box::new(StdSegment(f)))
    }

    fn write_atomic(&self, path: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
        let tmp = path.with_extension("tmp");
        let mut f = crate::private::file_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        if sync {
            f.sync_data()?;
        }
        std::fs::rename(&tmp, path)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }
}
