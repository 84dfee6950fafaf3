//! The open-file limit: 1,000 clients need 1,000 sockets in the child and
//! 1,000 in the exchange, above the usual soft limit of 1,024.

use rustix::process::{Resource, getrlimit, setrlimit};

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (inherited by the
/// child). Fails only if the kernel refuses; a low hard limit then shows
/// as connect errors, and `ulimit -n` is the fix.
pub(crate) fn raise_open_files() -> Result<(), String> {
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current == limit.maximum {
        return Ok(());
    }
    limit.current = limit.maximum;
    setrlimit(Resource::Nofile, limit).map_err(|e| format!("raise the open-file limit: {e}"))
}
