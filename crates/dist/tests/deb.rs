//! The Debian package installs into a fresh Debian 12 root made with debootstrap (from
//! Debian's archive) and works there: `wms --version`, `wms session list` (finding a real
//! audit session opened for the test), `man wms`, the completions where the shells look,
//! the state directory, and the binary the unit's ExecStart names (`--version`, `--help`,
//! `check-config` with the example configuration the package installs).
//!
//! And the README's set-up command, `./scripts/install && wms session list`, works there
//! as root on a machine without sudo, and as a user with sudo.
//!
//! The package is `$WMS_DEB` (scripts/test builds it once with scripts/deb), else this
//! test builds it. The minbase root (with man-db and sudo) is made once and kept as a tar
//! under the target directory (`debootstrap/bookworm-minbase-man-db-sudo.tar`), so a rerun
//! unpacks a fresh copy in seconds instead of bootstrapping again. Runs as root (chroot,
//! mounts in a private mount namespace that ends with the command).

mod common;
use common::{run, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const MIRROR: &str = "http://deb.debian.org/debian";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"))
}

/// The package to install: `$WMS_DEB`, or one built now with scripts/deb.
fn package() -> PathBuf {
    if let Some(p) = std::env::var_os("WMS_DEB") {
        return PathBuf::from(p);
    }
    let out = run(&mut Command::new(workspace().join("scripts/deb")));
    PathBuf::from(
        text(&out.stdout)
            .lines()
            .last()
            .expect("scripts/deb names the package"),
    )
}

/// What the base root has beyond minbase: man (for `man wms`), sudo (for the README's
/// command as a user with sudo; the root case moves it out of the way), and the package's
/// one dependency outside minbase, the DejaVu fonts of the lock and message windows (the
/// first test installs with `dpkg -i`, which fetches nothing; the README's command uses
/// apt, which would).
const INCLUDE: &str = "man-db,sudo,fonts-dejavu-core";

/// A tar of a minbase Debian 12 root with [`INCLUDE`], made with debootstrap the first
/// time.
fn base_tar() -> PathBuf {
    let dir = target_dir().join("debootstrap");
    let tar = dir.join(format!(
        "bookworm-minbase-{}.tar",
        INCLUDE.replace(',', "-")
    ));
    if tar.exists() {
        return tar;
    }
    std::fs::create_dir_all(&dir).unwrap();
    let root = dir.join(format!("bootstrap-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    run(Command::new("debootstrap").args([
        "--variant=minbase",
        &format!("--include={INCLUDE}"),
        "bookworm",
        root.to_str().unwrap(),
        MIRROR,
    ]));
    let partial = tar.with_extension(format!("tar.{}", std::process::id()));
    run(Command::new("tar")
        .arg("-C")
        .arg(&root)
        .args(["--numeric-owner", "-cf"])
        .arg(&partial)
        .arg("."));
    std::fs::rename(&partial, &tar).unwrap();
    let _ = std::fs::remove_dir_all(&root);
    tar
}

/// A fresh root unpacked from the base, removed when dropped.
struct Root(PathBuf);

impl Root {
    fn fresh() -> Root {
        let tar = base_tar();
        let root = target_dir()
            .join("debootstrap")
            .join(format!("root-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        run(Command::new("tar")
            .arg("-C")
            .arg(&root)
            .args(["--numeric-owner", "-xf"])
            .arg(&tar));
        Root(root)
    }

    fn path(&self, inside: &str) -> PathBuf {
        self.0.join(inside.trim_start_matches('/'))
    }

    /// Runs `command` (a shell line) chrooted into the root, with /proc and /dev mounted
    /// in a private mount namespace that ends with it.
    fn sh(&self, command: &str) -> Output {
        self.sh_in(&[], command)
    }

    /// [`Root::sh`], with more namespaces of its own (`--net`: a network of its own, so an
    /// agent may listen on its default address without touching this host's).
    fn sh_in(&self, namespaces: &[&str], command: &str) -> Output {
        let root = self.0.display().to_string();
        let script = format!(
            "set -e; mount -t proc proc '{root}/proc'; mount --rbind /dev '{root}/dev'; \
             exec chroot '{root}' /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
             LC_ALL=C.UTF-8 HOME=/root /bin/sh -c \"$0\""
        );
        Command::new("unshare")
            .args(namespaces)
            .args([
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                &script,
                command,
            ])
            .output()
            .expect("run unshare")
    }

    fn ok(&self, command: &str) -> String {
        let out = self.sh(command);
        assert!(
            out.status.success(),
            "{command} failed in the root ({}):\n{}{}",
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_package_installs_and_works_on_a_fresh_debian_12() {
    let deb = package();
    let root = Root::fresh();
    assert!(
        !root.path("/usr/bin/wms").exists(),
        "a fresh root has no wms"
    );
    std::fs::copy(&deb, root.path("/tmp/wms.deb")).unwrap();
    root.ok("dpkg -i /tmp/wms.deb");

    // wms, its version, and the sessions of this host (the root shares its /proc).
    let version = root.ok("wms --version");
    assert_eq!(version.trim(), format!("wms {}", env!("CARGO_PKG_VERSION")));
    let mut generated =
        wms_testkit::gen::generate(&wms_testkit::gen::GenOptions::new(1, 1)).unwrap();
    let id = generated.ids()[0];
    let listed = root.ok("wms session list -o json");
    let ids: Vec<u64> = listed
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|v| v["SessionId"].as_u64())
        .collect();
    assert!(
        ids.contains(&u64::from(id)),
        "session {id} not in:\n{listed}"
    );
    let listed = root.ok(&format!("wms session list {id}"));
    assert!(listed.contains(&format!("SessionId    : {id}")), "{listed}");
    generated.kill_all();

    // The man pages, where man finds them.
    let page = root.ok("MANPAGER=cat MANWIDTH=80 man wms");
    assert!(
        page.contains("SYNOPSIS") && page.contains("wms-session(1)"),
        "{page}"
    );
    let page = root.ok("MANPAGER=cat MANWIDTH=80 man wmsd");
    assert!(page.contains("check-config"), "{page}");
    // Installed compressed, as Debian's policy has them.
    root.ok("test -f /usr/share/man/man1/wms-session-close.1.gz");

    // The completions where bash-completion, zsh and fish look for them.
    for file in [
        "/usr/share/bash-completion/completions/wms",
        "/usr/share/bash-completion/completions/wmsd",
        "/usr/share/zsh/vendor-completions/_wms",
        "/usr/share/zsh/vendor-completions/_wmsd",
        "/usr/share/fish/vendor_completions.d/wms.fish",
        "/usr/share/fish/vendor_completions.d/wmsd.fish",
    ] {
        assert!(root.path(file).is_file(), "{file} is not installed");
    }
    // The state directory, and the example configuration as a conffile.
    assert!(root.path("/var/lib/wms").is_dir(), "no state directory");
    let conffiles = root.ok("cat /var/lib/dpkg/info/wms.conffiles");
    assert_eq!(conffiles.trim(), "/etc/wms/wms.toml");

    // The binary the unit starts, and that it accepts the installed configuration.
    let unit = std::fs::read_to_string(root.path("/lib/systemd/system/wmsd.service")).unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("the unit has an ExecStart")
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(exec, "/usr/sbin/wmsd");
    assert!(root.path(&exec).is_file(), "{exec} is not installed");
    let version = root.ok(&format!("{exec} --version"));
    assert_eq!(
        version.trim(),
        format!("wmsd {}", env!("CARGO_PKG_VERSION"))
    );
    let help = root.ok(&format!("{exec} --help"));
    assert!(
        help.contains("token") && help.contains("check-config"),
        "{help}"
    );
    let checked = root.ok(&format!("{exec} check-config"));
    assert!(
        checked.contains("configuration: /etc/wms/wms.toml")
            && checked.contains("listen: 0.0.0.0:7390")
            && checked.contains("the configuration is valid"),
        "{checked}"
    );

    // And the unit's binary starts as the unit starts it (its own network namespace, so its
    // default address is no one else's), serves wms on its socket, and stops on SIGTERM.
    let served = root.sh_in(
        &["--net"],
        &format!(
            "{exec} 2>/tmp/wmsd.log & pid=$!; \
             for i in $(seq 100); do [ -S /run/wms/wmsd.sock ] && break; sleep 0.1; done; \
             wms session list -o json >/tmp/listed && kill -TERM $pid && wait $pid; \
             echo wmsd-exit=$?; cat /tmp/wmsd.log"
        ),
    );
    let said = text(&served.stdout);
    assert!(
        said.contains("wmsd-exit=0"),
        "{said}{}",
        text(&served.stderr)
    );
    assert!(said.contains("serving"), "{said}");

    // And it goes away cleanly, state and all, when purged.
    root.ok("dpkg --purge wms");
    assert!(!root.path("/usr/bin/wms").exists() && !root.path("/var/lib/wms").exists());
}

#[test]
fn the_readmes_install_command_works_as_root_without_sudo_and_as_a_user_with_sudo() {
    let deb = package();
    let root = Root::fresh();
    std::fs::copy(&deb, root.path("/tmp/wms.deb")).unwrap();
    std::fs::create_dir_all(root.path("/src/scripts")).unwrap();
    for script in ["install", "deb"] {
        std::fs::copy(
            workspace().join("scripts").join(script),
            root.path(&format!("/src/scripts/{script}")),
        )
        .unwrap();
    }
    // The README's command, with the package built already (WMS_DEB) instead of building
    // one: the root has no Rust toolchain, and building is scripts/deb's part.
    let readme = "cd /src && ./scripts/install && wms session list -o json";

    // Root on a machine without sudo.
    root.ok("mv /usr/bin/sudo /usr/bin/sudo.away");
    let out = root.ok(&format!("WMS_DEB=/tmp/wms.deb sh -c '{readme}'"));
    assert!(out.contains("scripts/install: installed wms.deb"), "{out}");
    assert!(root.path("/usr/bin/wms").is_file());
    root.ok("dpkg --purge wms");

    // A user without sudo is told what to do, and nothing is installed.
    root.ok("useradd -m wmsadmin");
    let out = root.sh("su wmsadmin -c 'cd /src && WMS_DEB=/tmp/wms.deb ./scripts/install'");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("installing needs root; run this as root, or install sudo"),
        "{}",
        text(&out.stderr)
    );
    assert!(!root.path("/usr/bin/wms").exists());

    // A user with sudo: only the installing step goes through it.
    root.ok("mv /usr/bin/sudo.away /usr/bin/sudo && \
         echo 'wmsadmin ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/wmsadmin && \
         chmod 0440 /etc/sudoers.d/wmsadmin");
    let out = root.ok(&format!(
        "su wmsadmin -c 'WMS_DEB=/tmp/wms.deb sh -c \"{readme}\"'"
    ));
    assert!(out.contains("scripts/install: installed wms.deb"), "{out}");
    assert!(root.path("/usr/bin/wms").is_file() && root.path("/usr/sbin/wmsd").is_file());
}
