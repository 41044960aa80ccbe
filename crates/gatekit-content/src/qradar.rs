//! stub
use crate::File;
/// stub
pub fn files() -> Vec<File> {
    Vec::new()
}
