//! `GET /v1/caller` against real agents: who the agent takes its caller to be, asked by
//! the client's `AgentClient::caller` over TLS with a token and on the Unix socket, and by
//! test users in real ssh sessions on the socket. The dashboard shows by it what the
//! caller may not do (SPEC 5).

mod common;
use common::*;
use wms_cli::agent_client::{block_on, AgentClient, ClientError};
use wms_cli::systems::System;
use wms_core::api::CallerInfo;
use wms_core::{Role as Rules, SessionId, Uid};

/// The session this test runs in, if any: the client names it to an agent on its own host.
fn own_session() -> Option<SessionId> {
    let raw = std::fs::read_to_string("/proc/self/sessionid").unwrap();
    SessionId::from_kernel(raw.trim().parse().unwrap())
}

fn system(agent: &Agent, token: &str) -> System {
    System {
        name: "here".into(),
        address: agent.address(),
        fingerprint: Some(agent.fingerprint()),
        ca: None,
        token: token.to_string(),
    }
}

fn token(agent: &Agent, name: &str, role: &str) -> String {
    let out = agent.wmsd(&["token", "create", "--name", name, "--role", role]);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).trim().to_string()
}

#[test]
fn a_token_caller_is_its_tokens_role_with_no_user_and_its_own_session_when_on_this_host() {
    let agent = Agent::tls();
    for (role, expected) in [
        ("admin", Rules::Administrator),
        ("operator", Rules::Operator),
    ] {
        let client = AgentClient::remote(&system(&agent, &token(&agent, role, role))).unwrap();
        let info = block_on(client.caller()).unwrap();
        assert_eq!(
            info,
            CallerInfo {
                role: expected,
                // A token is nobody's on the agent's host: no user is made up for it.
                uid: None,
                // The client names its machine and session; the machine is the agent's.
                own_session: own_session(),
            },
            "{role}"
        );
    }
    // A token the agent never issued gets no answer.
    let stranger = format!("wms_{}", "0123456789abcdef".repeat(4));
    let client = AgentClient::remote(&system(&agent, &stranger)).unwrap();
    match block_on(client.caller()) {
        Err(ClientError::Refused { status, why, .. }) => {
            assert_eq!(status.as_u16(), 401);
            assert!(why.contains("unknown token"), "{why}");
        }
        other => panic!("an unknown token was not refused: {other:?}"),
    }
}

#[test]
fn a_caller_on_the_unix_socket_is_the_user_and_session_the_kernel_vouches_for() {
    let agent = Agent::unix();
    // This test's process: root, an administrator.
    let client = AgentClient::connect(&agent.socket()).expect("the agent answers");
    assert_eq!(
        block_on(client.caller()).unwrap(),
        CallerInfo {
            role: Rules::Administrator,
            uid: Some(Uid::ROOT),
            own_session: own_session(),
        }
    );
    // Test users in ssh sessions of their own: their group decides the role, and the
    // session they ask from is theirs.
    let ask = format!(
        "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect({socket:?})\ns.sendall(b'GET /v1/caller HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n')\nanswer = b''\nwhile True:\n    part = s.recv(65536)\n    if not part:\n        break\n    answer += part\nhead, body = answer.split(b'\\r\\n\\r\\n', 1)\nprint(head.split(b'\\r\\n')[0].decode())\nprint(body.decode())\n",
        socket = agent.socket().display().to_string(),
    );
    let sshd = Sshd::start();
    for (who, role) in [
        (Role::Operator, Rules::Operator),
        (Role::Admin, Rules::Administrator),
        (Role::Plain, Rules::User),
    ] {
        let u = user(who);
        let out = sshd.run(&u, "/usr/bin/python3 -", ask.as_bytes());
        assert_eq!(out.status.code(), Some(0), "{}: {}", u.name, out.stderr);
        let (status, body) = out.stdout.trim().split_once('\n').unwrap();
        assert!(status.contains(" 200 "), "{}: {status} {body}", u.name);
        let info: CallerInfo = serde_json::from_str(body).unwrap();
        assert_eq!(
            info,
            CallerInfo {
                role,
                uid: Some(Uid(u.uid)),
                own_session: Some(SessionId(out.session_id)),
            },
            "{}",
            u.name
        );
    }
}
