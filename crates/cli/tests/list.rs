//! Get-WmsSession against real sshd sessions.

mod common;
use common::*;

#[test]
fn sessions_of_each_role_are_listed_with_their_fields() {
    let sshd = Sshd::start();
    let plain = sshd.open_session(&user(Role::Plain), "sleep 600", true);
    let oper = sshd.open_session(&user(Role::Operator), "sleep 600", true);
    let admin = sshd.open_session(&user(Role::Admin), "sleep 600", false);
    let out = wms(&["session", "list", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let all: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let find = |id: u32| {
        all.iter()
            .find(|s| s["SessionId"] == id)
            .unwrap_or_else(|| panic!("session {id} not listed: {all:?}"))
            .clone()
    };
    for (sess, name, is_admin, tty) in [
        (&plain, "wmst-plain", false, true),
        (&oper, "wmst-oper", false, true),
        (&admin, "wmst-admin", true, false),
    ] {
        let s = find(sess.session_id());
        assert_eq!(s["UserName"], name, "{s}");
        assert_eq!(s["IsAdmin"], is_admin, "{s}");
        assert_eq!(s["State"], "RemoteConnection", "{s}");
        assert_eq!(s["ClientName"], "127.0.0.1", "{s}");
        assert_eq!(s["Service"], "sshd", "{s}");
        assert_eq!(s["StationId"], 0, "{s}");
        assert!(s["ProcessCount"].as_u64().unwrap() >= 2, "{s}");
        let leader = s["LeaderPid"].as_u64().unwrap() as u32;
        assert_eq!(
            wms_testkit::process_session_id(leader),
            Some(sess.session_id()),
            "{s}"
        );
        if tty {
            let t = s["Tty"].as_str().unwrap_or_else(|| panic!("no Tty: {s}"));
            assert!(t.starts_with("pts/"), "{s}");
            assert!(s["IdleSeconds"].is_u64(), "{s}");
        } else {
            assert!(
                s.get("Tty").is_none(),
                "a session without a terminal has no Tty: {s}"
            );
            assert!(s.get("IdleSeconds").is_none(), "{s}");
        }
        assert!(s["LogonTime"].as_str().unwrap().ends_with('Z'), "{s}");
    }
}

#[test]
fn list_by_id_reports_unknown_ids_and_lists_the_rest() {
    let sshd = Sshd::start();
    let a = sshd.open_session(&user(Role::Plain), "sleep 600", false);
    let id = a.session_id().to_string();
    let out = wms(&["session", "list", &id, "4294967294"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains(&format!("SessionId    : {id}\n")), "{text}");
    assert!(text.contains("UserName     : wmst-plain\n"), "{text}");
    assert!(
        stderr(&out).starts_with("wms session list: cannot find session 4294967294 on ")
            && stderr(&out)
                .trim_end()
                .ends_with("no login session has that ID"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn table_and_cmdlet_spellings_show_the_same_session() {
    let sshd = Sshd::start();
    let a = sshd.open_session(&user(Role::Plain2), "sleep 600", true);
    let id = a.session_id().to_string();
    let table = wms(&["session", "list", &id, "-o", "table"]);
    let lines: Vec<String> = stdout(&table).lines().map(str::to_string).collect();
    assert!(lines[0].starts_with("SessionId State"), "{lines:?}");
    assert!(lines[2].starts_with(&format!("{id} ")), "{lines:?}");
    assert!(lines[2].contains("wmst-plain2"), "{lines:?}");
    let cmdlet = wms(&["get-wmssession", "-SessionId", &id]);
    assert_eq!(cmdlet.status.code(), Some(0), "{}", stderr(&cmdlet));
    let unix = wms(&["session", "list", &id]);
    // What moves between two listings (idleness, CPU time, memory) is left out.
    let steady = |o: &std::process::Output| -> Vec<String> {
        stdout(o)
            .lines()
            .filter(|l| {
                !["IdleSeconds", "CpuSeconds", "MemoryBytes"]
                    .iter()
                    .any(|k| l.starts_with(k))
            })
            .map(str::to_string)
            .collect()
    };
    assert_eq!(steady(&cmdlet), steady(&unix));
}

#[test]
fn a_plain_user_can_list_everyone() {
    let sshd = Sshd::start();
    let admin = sshd.open_session(&user(Role::Admin), "sleep 600", false);
    let out = wms_as(
        &sshd,
        &user(Role::Plain),
        &format!("session list {}", admin.session_id()),
        b"",
    );
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stdout.contains("UserName     : wmst-admin"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("IsAdmin      : True"), "{}", out.stdout);
}
