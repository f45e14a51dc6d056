//! Collecting what a child prints, and finding the marker line (`WMS-SESSION=<id>
//! WMS-PID=<pid>`) the remote login shell prints before the command.

use super::*;

/// Bytes collected by a reader thread, with a condition variable signalled on every change.
#[derive(Default)]
pub(crate) struct Buffer {
    pub(crate) state: Mutex<BufferState>,
    pub(crate) changed: Condvar,
}

#[derive(Default)]
pub(crate) struct BufferState {
    pub(crate) bytes: Vec<u8>,
    /// The reader saw end of file (or an error such as EIO on a pty master).
    pub(crate) closed: bool,
}

impl Buffer {
    /// Starts a thread that appends everything read from `source` to a new buffer.
    pub(crate) fn collect(mut source: impl Read + Send + 'static) -> Arc<Buffer> {
        let buffer = Arc::new(Buffer::default());
        let writer = Arc::clone(&buffer);
        thread::Builder::new()
            .name("wms-testkit-reader".to_string())
            .spawn(move || {
                let mut chunk = [0u8; 8192];
                loop {
                    match source.read(&mut chunk) {
                        Ok(0) => break,
                        Ok(n) => {
                            lock(&writer.state).bytes.extend_from_slice(&chunk[..n]);
                            writer.changed.notify_all();
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
                lock(&writer.state).closed = true;
                writer.changed.notify_all();
            })
            .expect("start a reader thread");
        buffer
    }

    pub(crate) fn bytes(&self) -> Vec<u8> {
        lock(&self.state).bytes.clone()
    }

    /// Waits up to `timeout` until `done(bytes)` holds; returns its last value. Stops early
    /// once the source is closed.
    pub(crate) fn wait_until<T>(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&[u8]) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut state = lock(&self.state);
        loop {
            if let Some(v) = done(&state.bytes) {
                return Some(v);
            }
            let now = Instant::now();
            if state.closed || now >= deadline {
                return None;
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits up to `timeout` for the source to reach end of file.
    pub(crate) fn wait_closed(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = lock(&self.state);
        while !state.closed {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

/// Whether `haystack` contains `needle`.
pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// A parsed marker line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Marker {
    pub(crate) session_id: u32,
    pub(crate) pid: u32,
    /// Byte range of the whole line in the text, including its line end.
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// Finds the complete marker line `WMS-SESSION=<id> WMS-PID=<pid>` (ended by `\n`) in `text`.
pub(crate) fn find_marker(text: &[u8]) -> Option<Marker> {
    let mut from = 0;
    while let Some(pos) = find(&text[from..], MARKER.as_bytes()).map(|p| p + from) {
        from = pos + 1;
        let line_end = match text[pos..].iter().position(|&b| b == b'\n') {
            Some(n) => pos + n,
            None => return None,
        };
        let line = String::from_utf8_lossy(&text[pos + MARKER.len()..line_end]);
        let mut words = line.trim_end_matches('\r').split(' ');
        let id = words.next().and_then(|s| s.parse().ok());
        let pid = words
            .next()
            .and_then(|s| s.strip_prefix("WMS-PID="))
            .and_then(|s| s.parse().ok());
        if let (Some(session_id), Some(pid)) = (id, pid) {
            return Some(Marker {
                session_id,
                pid,
                start: pos,
                end: line_end + 1,
            });
        }
    }
    None
}

/// The position of `needle` in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_parsing() {
        let text = b"motd\r\nWMS-SESSION=42 WMS-PID=1234\r\nrest";
        let m = find_marker(text).unwrap();
        assert_eq!((m.session_id, m.pid), (42, 1234));
        assert_eq!(&text[m.start..m.end], b"WMS-SESSION=42 WMS-PID=1234\r\n");
        assert_eq!(find_marker(b"WMS-SESSION=42 WMS-PID=12"), None);
        assert_eq!(
            find_marker(b"WMS-SESSION=x\nWMS-SESSION=7 WMS-PID=8\n")
                .unwrap()
                .session_id,
            7
        );
    }
}
