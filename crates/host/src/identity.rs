//! Who is who: user and group names through NSS, roles from group membership, and this
//! host's names.

use crate::config::Config;
use nix::unistd::{Gid, Group, User};
use std::collections::HashMap;
use std::ffi::CString;
use wms_core::{Role, Uid};

/// A resolved user, as far as the user database knows it.
#[derive(Debug, Clone)]
pub struct UserInfo {
    /// The login name, or the number when the user does not resolve.
    pub name: String,
    pub is_admin: bool,
}

/// Resolves users once per run; a listing of many sessions of few users stays cheap.
#[derive(Debug, Default)]
pub struct UserCache {
    users: HashMap<Uid, UserInfo>,
}

impl UserCache {
    pub fn get(&mut self, uid: Uid, config: &Config) -> &UserInfo {
        self.users
            .entry(uid)
            .or_insert_with(|| resolve_user(uid, config))
    }
}

fn resolve_user(uid: Uid, config: &Config) -> UserInfo {
    match User::from_uid(nix::unistd::Uid::from_raw(uid.0)) {
        Ok(Some(u)) => {
            let groups = CString::new(u.name.as_bytes())
                .ok()
                .and_then(|n| nix::unistd::getgrouplist(&n, u.gid).ok())
                .unwrap_or_else(|| vec![u.gid]);
            UserInfo {
                is_admin: uid == Uid::ROOT || in_any(&groups, &config.admin_groups),
                name: u.name,
            }
        }
        // A user the database does not know has no groups to make it an administrator,
        // unless it is root.
        _ => UserInfo {
            name: uid.to_string(),
            is_admin: uid == Uid::ROOT,
        },
    }
}

/// Whether any of `gids` is one of the groups named in `names`.
fn in_any(gids: &[Gid], names: &[String]) -> bool {
    names
        .iter()
        .any(|name| matches!(Group::from_name(name), Ok(Some(g)) if gids.contains(&g.gid)))
}

/// The role of the running process, from its real user and the groups the kernel gives
/// it (not the user database, which may have changed since login).
pub fn own_role(config: &Config) -> Role {
    let mut gids: Vec<u32> = rustix::process::getgroups()
        .unwrap_or_default()
        .into_iter()
        .map(|g| g.as_raw())
        .collect();
    gids.push(rustix::process::getgid().as_raw());
    role_of(rustix::process::getuid().as_raw(), &gids, config)
}

/// The role of a process running as `uid` with the groups `gids` (its primary and
/// supplementary groups, as the kernel gives them).
pub fn role_of(uid: u32, gids: &[u32], config: &Config) -> Role {
    if uid == 0 {
        return Role::Administrator;
    }
    let gids: Vec<Gid> = gids.iter().map(|g| Gid::from_raw(*g)).collect();
    if in_any(&gids, &config.admin_groups) {
        Role::Administrator
    } else if in_any(&gids, &config.operator_groups) {
        Role::Operator
    } else {
        Role::User
    }
}

/// This host's names.
#[derive(Debug, Clone)]
pub struct HostNames {
    /// The short host name (`uname -n` up to the first dot).
    pub short: String,
    /// The fully qualified name (`hostname -f`), or the node name when there is none.
    pub fqdn: String,
    /// The DNS domain when the host has one, else its short name (SPEC 3's DomainName).
    pub domain: String,
}

impl HostNames {
    pub fn discover() -> HostNames {
        let node = rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned();
        let fqdn = crate::sys::canonical_name(&node)
            .filter(|c| c.contains('.') || !node.contains('.'))
            .unwrap_or_else(|| node.clone());
        HostNames::from_names(&node, &fqdn)
    }

    pub fn from_names(node: &str, fqdn: &str) -> HostNames {
        let short = node.split('.').next().unwrap_or(node).to_string();
        let domain = match fqdn.split_once('.') {
            Some((_, d)) if !d.is_empty() => d.to_string(),
            _ => short.clone(),
        };
        HostNames {
            short,
            fqdn: fqdn.to_string(),
            domain,
        }
    }

    /// Whether `name` designates this host (so the command runs in-process).
    pub fn is_local(&self, name: &str) -> bool {
        let n = name.trim_end_matches('.');
        [
            "localhost",
            "127.0.0.1",
            "::1",
            "[::1]",
            "localhost.localdomain",
        ]
        .iter()
        .any(|l| n.eq_ignore_ascii_case(l))
            || n.eq_ignore_ascii_case(&self.short)
            || n.eq_ignore_ascii_case(&self.fqdn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_is_the_dns_domain_or_the_short_name() {
        let h = HostNames::from_names("lab1", "lab1.school.example");
        assert_eq!(h.short, "lab1");
        assert_eq!(h.domain, "school.example");
        let h = HostNames::from_names("lab1", "lab1");
        assert_eq!(h.domain, "lab1");
    }

    #[test]
    fn local_names() {
        let h = HostNames::from_names("lab1", "lab1.school.example");
        for n in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "::1",
            "lab1",
            "Lab1.School.Example",
            "lab1.school.example.",
        ] {
            assert!(h.is_local(n), "{n}");
        }
        for n in ["lab2", "lab1.other", "10.0.0.1", ""] {
            assert!(!h.is_local(n), "{n}");
        }
    }

    #[test]
    fn roles_follow_uid_and_groups() {
        let c = Config {
            admin_groups: vec!["root".into()],
            operator_groups: vec!["daemon".into()],
            ..Config::default()
        };
        // Debian: group root is 0, daemon is 1.
        assert_eq!(role_of(0, &[], &c), Role::Administrator);
        assert_eq!(role_of(1000, &[1000, 0], &c), Role::Administrator);
        assert_eq!(role_of(1000, &[1000, 1], &c), Role::Operator);
        assert_eq!(role_of(1000, &[1000], &c), Role::User);
    }

    #[test]
    fn root_resolves_and_is_admin() {
        let mut cache = UserCache::default();
        let root = cache.get(Uid::ROOT, &Config::default()).clone();
        assert_eq!(root.name, "root");
        assert!(root.is_admin);
    }

    #[test]
    fn an_unknown_user_shows_its_number_and_is_not_admin() {
        let mut cache = UserCache::default();
        let u = cache.get(Uid(3_999_999_999), &Config::default()).clone();
        assert_eq!(u.name, "3999999999");
        assert!(!u.is_admin);
    }
}
