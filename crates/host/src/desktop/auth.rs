//! X authority files (`~/.Xauthority`, `XAUTHORITY`, an X server's `-auth FILE`): read
//! without being tricked into reading another file, and the cookie for one display
//! found in them.
//!
//! The path comes from a session's environment or its X server's arguments, both of
//! which the session's user controls, and wms reads it as root. So the file is opened
//! without following a symbolic link at its last step, must be a regular file owned by
//! the user it is expected from (a link or a hard link to another user's file is owned by
//! that other user), and is read only up to a bound.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The most an authority file may hold: a few records of a few dozen bytes each are
/// usual; a larger file is not read.
const MAX_FILE: u64 = 64 * 1024;

/// The address family of a local connection in an authority record (`FamilyLocal`).
const FAMILY_LOCAL: u16 = 256;
/// A record for any address (`FamilyWild`).
const FAMILY_WILD: u16 = 65535;

/// An X authorization: its protocol name (`MIT-MAGIC-COOKIE-1`) and its data.
#[derive(Clone, PartialEq, Eq)]
pub struct Cookie {
    pub name: Vec<u8>,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for Cookie {
    // The data is a secret: never in a log or an error.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cookie")
            .field("name", &String::from_utf8_lossy(&self.name))
            .field("data", &format_args!("<{} bytes>", self.data.len()))
            .finish()
    }
}

/// The bytes of the authority file `path`, which must be a regular file owned by `owner`
/// and not a symbolic link; why not otherwise.
pub(crate) fn read_file(path: &Path, owner: u32) -> Result<Vec<u8>, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        // Not a FIFO that blocks the reader, not a link to follow.
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !meta.file_type().is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    if meta.uid() != owner {
        return Err(format!(
            "{} belongs to uid {}, not to the session's uid {owner}",
            path.display(),
            meta.uid()
        ));
    }
    if meta.len() > MAX_FILE {
        return Err(format!(
            "{} is larger than an authority file ({} bytes)",
            path.display(),
            meta.len()
        ));
    }
    let mut out = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILE)
        .read_to_end(&mut out)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(out)
}

/// One record of an authority file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record<'a> {
    family: u16,
    address: &'a [u8],
    number: &'a [u8],
    name: &'a [u8],
    data: &'a [u8],
}

/// The records of an authority file's bytes, as far as they are well formed.
fn records(mut b: &[u8]) -> Vec<Record<'_>> {
    fn field<'a>(b: &mut &'a [u8]) -> Option<&'a [u8]> {
        let len = u16::from_be_bytes([*b.first()?, *b.get(1)?]) as usize;
        let v = b.get(2..2 + len)?;
        *b = &b[2 + len..];
        Some(v)
    }
    let mut out = Vec::new();
    while b.len() >= 2 {
        let family = u16::from_be_bytes([b[0], b[1]]);
        let mut rest = &b[2..];
        let (Some(address), Some(number), Some(name), Some(data)) = (
            field(&mut rest),
            field(&mut rest),
            field(&mut rest),
            field(&mut rest),
        ) else {
            break;
        };
        out.push(Record {
            family,
            address,
            number,
            name,
            data,
        });
        b = rest;
    }
    out
}

/// The cookie for local display `display` of host `hostname` in an authority file's
/// bytes, as Xlib chooses it: a local or wildcard record for that display number, this
/// host's first; a record of another host's name is used when no other is there (a
/// renamed host keeps its records). Only `MIT-MAGIC-COOKIE-1` is taken.
pub(crate) fn cookie_for(file: &[u8], display: u32, hostname: &[u8]) -> Option<Cookie> {
    let number = display.to_string();
    let usable: Vec<Record> = records(file)
        .into_iter()
        .filter(|r| {
            matches!(r.family, FAMILY_LOCAL | FAMILY_WILD)
                && r.number == number.as_bytes()
                && r.name == b"MIT-MAGIC-COOKIE-1"
                && !r.data.is_empty()
        })
        .collect();
    let best = usable
        .iter()
        .find(|r| r.family == FAMILY_WILD || r.address == hostname)
        .or(usable.first())?;
    Some(Cookie {
        name: best.name.to_vec(),
        data: best.data.to_vec(),
    })
}

/// This host's name, as authority records of local displays hold it.
pub(crate) fn hostname() -> Vec<u8> {
    rustix::system::uname().nodename().to_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(family: u16, address: &[u8], number: &str, name: &[u8], data: &[u8]) -> Vec<u8> {
        let mut out = family.to_be_bytes().to_vec();
        for f in [address, number.as_bytes(), name, data] {
            out.extend((f.len() as u16).to_be_bytes());
            out.extend(f);
        }
        out
    }

    #[test]
    fn the_cookie_of_the_display_and_host_is_chosen() {
        let mut file = record(FAMILY_LOCAL, b"other", "3", b"MIT-MAGIC-COOKIE-1", b"old");
        file.extend(record(
            FAMILY_LOCAL,
            b"lab1",
            "2",
            b"MIT-MAGIC-COOKIE-1",
            b"two",
        ));
        file.extend(record(
            FAMILY_LOCAL,
            b"lab1",
            "3",
            b"XDM-AUTHORIZATION-1",
            b"xdm",
        ));
        file.extend(record(
            FAMILY_LOCAL,
            b"lab1",
            "3",
            b"MIT-MAGIC-COOKIE-1",
            b"three",
        ));
        let c = cookie_for(&file, 3, b"lab1").unwrap();
        assert_eq!(
            (c.name.as_slice(), c.data.as_slice()),
            (&b"MIT-MAGIC-COOKIE-1"[..], &b"three"[..])
        );
        // Another host's record only when there is nothing else.
        assert_eq!(cookie_for(&file, 3, b"lab9").unwrap().data, b"old");
        assert_eq!(cookie_for(&file, 7, b"lab1"), None);
        // A truncated file gives what was whole.
        assert_eq!(
            cookie_for(&file[..file.len() - 2], 2, b"lab1")
                .unwrap()
                .data,
            b"two"
        );
        assert!(records(&[1, 0, 0, 9, 1]).is_empty());
        // The secret is not shown.
        assert!(!format!("{c:?}").contains("three"));
    }

    #[test]
    fn only_a_regular_file_of_the_owner_is_read() {
        let dir = std::env::temp_dir().join(format!("wms-auth-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("auth");
        std::fs::write(&file, b"x").unwrap();
        let me = rustix::process::geteuid().as_raw();
        assert_eq!(read_file(&file, me).unwrap(), b"x");
        assert!(read_file(&file, me + 1)
            .unwrap_err()
            .contains("belongs to uid"));
        let link = dir.join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(read_file(&link, me).is_err());
        assert!(read_file(&dir, me).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
