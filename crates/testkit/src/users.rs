//! The fixed test users (`wmst-*`), created on demand, idempotently and under the
//! machine-wide lock, with exactly the privileged groups their role calls for.

use super::*;

/// A test role; each maps to a fixed test user, created on demand by [`user`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// `wmst-plain`: an ordinary user.
    Plain,
    /// `wmst-plain2`: a second ordinary user (for "someone else's session").
    Plain2,
    /// `wmst-oper`: a member of the `wms-operators` group.
    Operator,
    /// `wmst-admin`: a member of the `sudo` group (an administrator by wms's default rules).
    Admin,
    /// `wmst-allp`: an ordinary user used only by tests that run `-All` as a plain user, so
    /// that such tests cannot disturb sessions of the other roles' tests.
    AllPlain,
}

impl Role {
    /// Every role, for tests that iterate over them.
    pub const ALL: [Role; 5] = [
        Role::Plain,
        Role::Plain2,
        Role::Operator,
        Role::Admin,
        Role::AllPlain,
    ];

    /// The login name of this role's test user.
    pub fn user_name(self) -> &'static str {
        match self {
            Role::Plain => "wmst-plain",
            Role::Plain2 => "wmst-plain2",
            Role::Operator => "wmst-oper",
            Role::Admin => "wmst-admin",
            Role::AllPlain => "wmst-allp",
        }
    }

    /// The supplementary groups this role's test user must belong to.
    pub fn groups(self) -> &'static [&'static str] {
        match self {
            Role::Operator => &[OPERATORS_GROUP],
            Role::Admin => &[ADMIN_GROUP],
            Role::Plain | Role::Plain2 | Role::AllPlain => &[],
        }
    }
}

/// A user account that sessions can be opened as.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TestUser {
    /// The login name.
    pub name: String,
    /// The numeric user id.
    pub uid: u32,
}

impl TestUser {
    /// The root account (ssh key login as root is allowed by the kit's sshd).
    pub fn root() -> TestUser {
        TestUser {
            name: "root".to_string(),
            uid: 0,
        }
    }
}

/// Groups that make a user more than a plain user; a role's user is removed from those its
/// role does not list, so a stray `usermod` cannot silently change what a test proves.
pub(crate) const PRIVILEGED_GROUPS: [&str; 4] = [ADMIN_GROUP, OPERATORS_GROUP, "wheel", "admin"];

/// Returns the test user of `role`, creating it (and its groups) if missing, and making sure
/// it belongs to exactly the role's groups among `sudo`, `wms-operators`, `wheel`, `admin`.
pub fn user(role: Role) -> TestUser {
    ensure_user_inner(role.user_name(), role.groups(), &PRIVILEGED_GROUPS)
}

/// Makes sure user `name` exists (`useradd -m -s /bin/bash`) and belongs to every group in
/// `groups` (each created with `groupadd` if missing); idempotent and safe under concurrency
/// (it holds [`LOCK_PATH`] while checking and changing the user database).
pub fn ensure_user(name: &str, groups: &[&str]) -> TestUser {
    ensure_user_inner(name, groups, &[])
}

/// [`ensure_user`], also removing the user from each group of `exclusive` not in `groups`.
pub(crate) fn ensure_user_inner(name: &str, groups: &[&str], exclusive: &[&str]) -> TestUser {
    /// Users already ensured by this process.
    type Done = Mutex<HashMap<(String, Vec<String>, Vec<String>), TestUser>>;
    static DONE: OnceLock<Done> = OnceLock::new();
    let strings = |list: &[&str]| list.iter().map(|g| g.to_string()).collect::<Vec<_>>();
    let key = (name.to_string(), strings(groups), strings(exclusive));
    let done = DONE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(user) = lock(done).get(&key) {
        return user.clone();
    }

    let _guard = GlobalLock::acquire();
    if lookup_uid(name).is_none() {
        retry_admin_command(
            || lookup_uid(name).is_some(),
            &["useradd", "-m", "-s", "/bin/bash", name],
        );
    }
    for group in groups {
        if !group_exists(group) {
            retry_admin_command(|| group_exists(group), &["groupadd", group]);
        }
    }
    let current = user_groups(name);
    let missing: Vec<&str> = groups
        .iter()
        .copied()
        .filter(|g| !current.iter().any(|c| c == g))
        .collect();
    if !missing.is_empty() {
        let list = missing.join(",");
        retry_admin_command(
            || {
                let now = user_groups(name);
                missing.iter().all(|g| now.iter().any(|c| c == g))
            },
            &["usermod", "-a", "-G", &list, name],
        );
    }
    for group in exclusive.iter().filter(|g| !groups.contains(g)) {
        if user_groups(name).iter().any(|c| c == group) {
            retry_admin_command(
                || !user_groups(name).iter().any(|c| c == group),
                &["gpasswd", "-d", name, group],
            );
        }
    }
    let uid = lookup_uid(name).unwrap_or_else(|| panic!("user {name} missing after useradd"));
    let user = TestUser {
        name: name.to_string(),
        uid,
    };
    lock(done).insert(key, user.clone());
    user
}

/// Runs a user-database command, retrying a few times (the shadow tools fail when another
/// program holds their own lock) until `done` reports success.
pub(crate) fn retry_admin_command(done: impl Fn() -> bool, argv: &[&str]) {
    let mut last = String::new();
    for attempt in 0..10 {
        if attempt > 0 {
            if done() {
                return;
            }
            thread::sleep(Duration::from_millis(200));
        }
        match Command::new(argv[0]).args(&argv[1..]).output() {
            Ok(out) if out.status.success() => return,
            Ok(out) => {
                last = format!(
                    "{}: {}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                )
            }
            Err(e) => last = e.to_string(),
        }
    }
    if !done() {
        panic!("{argv:?} failed: {last}");
    }
}

/// The uid of `name` from the user database, if it exists.
pub(crate) fn lookup_uid(name: &str) -> Option<u32> {
    let out = Command::new("getent")
        .args(["passwd", name])
        .output()
        .expect("run getent");
    if !out.status.success() {
        return None;
    }
    let line = String::from_utf8_lossy(&out.stdout);
    line.lines()
        .next()?
        .split(':')
        .nth(2)
        .and_then(|s| s.parse().ok())
}

/// Whether group `name` exists.
pub(crate) fn group_exists(name: &str) -> bool {
    Command::new("getent")
        .args(["group", name])
        .stdout(Stdio::null())
        .status()
        .expect("run getent")
        .success()
}

/// The names of the groups `name` belongs to (`id -nG`).
pub(crate) fn user_groups(name: &str) -> Vec<String> {
    let out = Command::new("id")
        .args(["-nG", name])
        .output()
        .expect("run id");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}
