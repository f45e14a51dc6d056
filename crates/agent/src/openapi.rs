//! The OpenAPI document the agent serves at `/openapi.json`.

use serde_json::{json, Value};

pub fn document() -> Value {
    // The session object on its own: one macro call for the whole document would pass
    // serde_json's recursion limit.
    let session = json!({
        "type": "object",
        "required": ["SessionId", "UserName", "DomainName", "IsAdmin", "ComputerName", "ProcessCount", "IsLocked"],
        "properties": {
            "SessionId": {"type": "integer", "format": "int64", "minimum": 0, "maximum": 4294967294u32},
            "State": {"type": "string", "enum": ["RemoteConnection", "ConnectedToStation", "Disconnected"]},
            "UserName": {"type": "string"},
            "DomainName": {"type": "string"},
            "IsAdmin": {"type": "boolean"},
            "StationId": {"type": "integer", "minimum": 0},
            "ComputerName": {"type": "string"},
            "ClientName": {"type": "string"},
            "Class": {"type": "string", "enum": ["user", "greeter", "lock-screen", "background", "manager"]},
            "Type": {"type": "string", "enum": ["tty", "x11", "wayland", "mir", "web", "unspecified"]},
            "Tty": {"type": "string"},
            "Seat": {"type": "string"},
            "VTNr": {"type": "integer", "minimum": 0},
            "Display": {"type": "string"},
            "Remote": {"type": "boolean"},
            "RemoteHost": {"type": "string"},
            "Service": {"type": "string"},
            "LogonTime": {"type": "string", "format": "date-time"},
            "IdleSeconds": {"type": "integer", "minimum": 0},
            "IdleHint": {"type": "boolean"},
            "ProcessCount": {"type": "integer", "minimum": 0},
            "LeaderPid": {"type": "integer"},
            "CpuSeconds": {"type": "number", "minimum": 0},
            "MemoryBytes": {"type": "integer", "minimum": 0},
            "IsLocked": {"type": "boolean"},
            "LockMessage": {"type": "string"},
            "LockedHint": {"type": "boolean"},
            "Source": {"type": "string", "enum": ["logind", "proc"]},
            "Thumbnail": {"type": "string", "description": "Set by the client (Get-WmsSession -Thumbnail): the PNG file it wrote; the agent never sends it"}
        }
    });
    // Where a remote caller says which session it runs in (see `remote_own_session`).
    let own_session_headers = json!([
        {"name": "X-Wms-Machine-Id", "in": "header", "required": false, "schema": {"type": "string", "pattern": "^[0-9A-Fa-f-]{1,64}$"}, "description": "Over TCP: the caller's host's machine ID (/etc/machine-id, else the boot ID). When it is this host's, X-Wms-Session-Id names the caller's own session, which is protected."},
        {"name": "X-Wms-Session-Id", "in": "header", "required": false, "schema": {"type": "string", "pattern": "^([1-9][0-9]{0,8}|[1-3][0-9]{9}|4[0-1][0-9]{8}|42[0-8][0-9]{7}|429[0-3][0-9]{6}|4294[0-8][0-9]{5}|42949[0-5][0-9]{4}|429496[0-6][0-9]{3}|4294967[0-1][0-9]{2}|42949672[0-8][0-9]|429496729[0-4])$"}, "description": "Over TCP: the session the calling command runs in, on its host: a session ID from 1 to 4294967294, in decimal digits. Anything else is refused with 400."}
    ]);
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "wmsd",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The wms agent: list the login sessions of this host and close, disconnect, lock or unlock them or send them messages. Callers on the Unix socket are known by their peer credentials and send no token. Callers over TCP (TLS, port 7390 by default) send a bearer token made by `wmsd token create`; without a valid one they get 401 and nothing changes."
        },
        "paths": {
            "/v1/sessions": {
                "get": {
                    "summary": "Every login session on this host (Get-WmsSession -All)",
                    "security": [{}, {"bearer": []}],
                    "responses": {
                        "200": {"description": "The sessions", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Session"}}}}},
                        "401": {"$ref": "#/components/responses/Unauthorized"},
                        "429": {"$ref": "#/components/responses/TooMany"},
                        "500": {"$ref": "#/components/responses/Error"},
                        "503": {"$ref": "#/components/responses/Error"}
                    }
                }
            },
            "/v1/actions": {
                "post": {
                    "summary": "Close, disconnect, lock or unlock sessions, or send them a message; the intent is audited before anything is done, the outcomes after",
                    "security": [{}, {"bearer": []}],
                    "parameters": own_session_headers.clone(),
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ActionRequest"}}}},
                    "responses": {
                        "200": {"description": "One result per target", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ActionResponse"}}}},
                        "400": {"$ref": "#/components/responses/Error"},
                        "401": {"$ref": "#/components/responses/Unauthorized"},
                        "403": {"$ref": "#/components/responses/Error"},
                        "408": {"$ref": "#/components/responses/Error"},
                        "413": {"$ref": "#/components/responses/Error"},
                        "429": {"$ref": "#/components/responses/TooMany"},
                        "500": {"$ref": "#/components/responses/Error"},
                        "503": {"$ref": "#/components/responses/Error"}
                    }
                }
            },
            "/v1/caller": {
                "get": {
                    "summary": "Who this agent takes the caller to be: its role, its user on this host (left out for a token, which is nobody's), and the session it runs in here (left out when none), which is what the rules of POST /v1/actions look at; nothing is changed or audited",
                    "security": [{}, {"bearer": []}],
                    "parameters": own_session_headers,
                    "responses": {
                        "200": {"description": "The caller", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CallerInfo"}}}},
                        "400": {"$ref": "#/components/responses/Error"},
                        "401": {"$ref": "#/components/responses/Unauthorized"},
                        "403": {"$ref": "#/components/responses/Error"},
                        "429": {"$ref": "#/components/responses/TooMany"},
                        "500": {"$ref": "#/components/responses/Error"}
                    }
                }
            },
            "/v1/sessions/{id}/thumbnail": {
                "get": {
                    "summary": "A PNG of a desktop session's screen (Get-WmsSession -Thumbnail), read from the session's own X server with its own cookie. Looking is acting on the session: a plain user may look at their own sessions, an operator at non-administrators', an administrator at any; the intent is audited before the screen is read, the outcome after",
                    "security": [{}, {"bearer": []}],
                    "parameters": [
                        {"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1, "maximum": 4294967294u32}, "description": "The session ID"},
                        {"name": "size", "in": "query", "required": false, "schema": {"type": "string", "enum": ["small", "medium", "large", "full"], "default": "medium"}, "description": "small: 160 pixels wide, medium: 320, large: 640, full: the screen's own size; the height keeps the screen's proportions and a narrower screen is not enlarged"}
                    ],
                    "responses": {
                        "200": {"description": "The thumbnail", "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}},
                        "400": {"$ref": "#/components/responses/Error"},
                        "401": {"$ref": "#/components/responses/Unauthorized"},
                        "403": {"$ref": "#/components/responses/Error"},
                        "404": {"$ref": "#/components/responses/Error"},
                        "408": {"$ref": "#/components/responses/Error"},
                        "422": {"description": "The session has no desktop wms can read (a terminal session, a Wayland desktop, an X server it cannot reach or whose screen is too large): the error says why", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                        "429": {"$ref": "#/components/responses/TooMany"},
                        "500": {"$ref": "#/components/responses/Error"},
                        "503": {"$ref": "#/components/responses/Error"}
                    }
                }
            },
            "/v1/events": {
                "get": {
                    "summary": "Session events as Server-Sent Events: SessionNew, SessionRemoved, StateChanged, Locked, Unlocked (data: {EventId, Type, Time, Session}); a stream starts with Ready, and a client too far behind gets Resync and should list afresh",
                    "security": [{}, {"bearer": []}],
                    "parameters": [
                        {"name": "Last-Event-ID", "in": "header", "required": false, "schema": {"type": "string", "pattern": "^[0-9]{1,19}$"}, "description": "The last event ID the client saw: the stream starts with the events after it, across restarts of the agent too."}
                    ],
                    "responses": {
                        "200": {"description": "The event stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                        "400": {"$ref": "#/components/responses/Error"},
                        "401": {"$ref": "#/components/responses/Unauthorized"},
                        "429": {"$ref": "#/components/responses/TooMany"},
                        "503": {"$ref": "#/components/responses/Error"}
                    }
                }
            },
            "/metrics": {
                "get": {
                    "summary": "The agent's metrics in the Prometheus text format (version 0.0.4); over TCP with a token unless metrics_readers = \"anyone\"",
                    "security": [{}, {"bearer": []}],
                    "responses": {
                        "200": {"description": "The metrics", "content": {"text/plain": {"schema": {"type": "string"}}}},
                        "401": {"$ref": "#/components/responses/Unauthorized"},
                        "429": {"$ref": "#/components/responses/TooMany"},
                        "500": {"$ref": "#/components/responses/Error"}
                    }
                }
            },
            "/openapi.json": {
                "get": {"summary": "This document (open to anyone, over TCP too)", "security": [], "responses": {"200": {"description": "The OpenAPI document", "content": {"application/json": {"schema": {"type": "object"}}}}}}
            }
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "Over TCP only: `Authorization: Bearer wms_<64 hex digits>`, a token from `wmsd token create --name NAME --role admin|operator` (admin: any session; operator: sessions of non-administrators). Revoked with `wmsd token revoke NAME`, effective from the next request."}
            },
            "responses": {
                "Error": {"description": "What was wrong", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "TooMany": {"description": "Over a rate limit: try again after Retry-After seconds. Nothing was done.", "headers": {"Retry-After": {"schema": {"type": "integer"}}}, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "Unauthorized": {"description": "Over TCP, no valid token: the error names what was wrong (no token, a malformed Authorization header, an unknown token, or the revoked token by name). Nothing was changed; for POST /v1/actions the refusal is audited.", "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}}, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "Session": session,
                "CallerInfo": {
                    "type": "object",
                    "required": ["role"],
                    "properties": {
                        "role": {"type": "string", "enum": ["administrator", "operator", "user"], "description": "administrator: any session; operator: sessions of non-administrators; user: only the caller's own (SPEC 5)"},
                        "uid": {"type": "integer", "format": "int64", "minimum": 0, "maximum": 4294967294u32, "description": "The caller's user ID on this host (callers on the Unix socket)"},
                        "ownSession": {"type": "integer", "format": "int64", "minimum": 0, "maximum": 4294967294u32, "description": "The session the caller runs in on this host, which nobody may close, disconnect or lock through the agent"}
                    }
                },
                "ActionRequest": {
                    "description": "A verb and its targets: sessionIds (a non-empty list) or all: true, not both; lock and message take a message (the lock notice, the text sent) and only they do, except that lock and unlock with logind: true ask logind instead and take none. whatIf plans and changes nothing.",
                    "oneOf": [
                        {"type": "object", "additionalProperties": false, "required": ["verb", "sessionIds"], "properties": {"verb": {"type": "string", "enum": ["close", "disconnect", "unlock"]}, "sessionIds": {"type": "array", "minItems": 1, "maxItems": 4096, "items": {"type": "integer", "minimum": 0, "maximum": 4294967295u32}, "description": "The sessions to act on (each once)"}, "logind": {"type": "boolean", "enum": [false]}, "all": {"type": "boolean", "enum": [false]}, "whatIf": {"type": "boolean", "default": false}}},
                        {"type": "object", "additionalProperties": false, "required": ["verb", "all"], "properties": {"verb": {"type": "string", "enum": ["close", "disconnect", "unlock"]}, "logind": {"type": "boolean", "enum": [false]}, "all": {"type": "boolean", "enum": [true]}, "whatIf": {"type": "boolean", "default": false}}},
                        {"type": "object", "additionalProperties": false, "required": ["verb", "sessionIds", "message"], "properties": {"verb": {"type": "string", "enum": ["lock", "message"]}, "sessionIds": {"type": "array", "minItems": 1, "maxItems": 4096, "items": {"type": "integer", "minimum": 0, "maximum": 4294967295u32}, "description": "The sessions to act on (each once)"}, "logind": {"type": "boolean", "enum": [false]}, "all": {"type": "boolean", "enum": [false]}, "message": {"type": "string", "minLength": 1, "maxLength": 1000, "pattern": "^[^\u{0}-\u{8}\u{b}-\u{1f}\u{7f}-\u{9f}]*[^\\s\u{0}-\u{8}\u{b}-\u{1f}\u{7f}-\u{9f}][^\u{0}-\u{8}\u{b}-\u{1f}\u{7f}-\u{9f}]*$", "description": "Lock's notice or the message sent: text of 1 to 1000 characters, not only white space; line breaks and tabs are the only control characters it may hold"}, "whatIf": {"type": "boolean", "default": false}}},
                        {"type": "object", "additionalProperties": false, "required": ["verb", "sessionIds", "logind"], "properties": {"verb": {"type": "string", "enum": ["lock", "unlock"]}, "sessionIds": {"type": "array", "minItems": 1, "maxItems": 4096, "items": {"type": "integer", "minimum": 0, "maximum": 4294967295u32}, "description": "The sessions to act on (each once)"}, "all": {"type": "boolean", "enum": [false]}, "logind": {"type": "boolean", "enum": [true], "description": "Lock or unlock through logind: org.freedesktop.login1.Session.Lock or Unlock, Done once the session's LockedHint follows (its desktop's own locker listens to logind); no message"}, "whatIf": {"type": "boolean", "default": false}}},
                        {"type": "object", "additionalProperties": false, "required": ["verb", "all", "logind"], "properties": {"verb": {"type": "string", "enum": ["lock", "unlock"]}, "all": {"type": "boolean", "enum": [true]}, "logind": {"type": "boolean", "enum": [true], "description": "Lock or unlock through logind: org.freedesktop.login1.Session.Lock or Unlock, Done once the session's LockedHint follows (its desktop's own locker listens to logind); no message"}, "whatIf": {"type": "boolean", "default": false}}},
                        {"type": "object", "additionalProperties": false, "required": ["verb", "all", "message"], "properties": {"verb": {"type": "string", "enum": ["lock", "message"]}, "logind": {"type": "boolean", "enum": [false]}, "all": {"type": "boolean", "enum": [true]}, "message": {"type": "string", "minLength": 1, "maxLength": 1000, "pattern": "^[^\u{0}-\u{8}\u{b}-\u{1f}\u{7f}-\u{9f}]*[^\\s\u{0}-\u{8}\u{b}-\u{1f}\u{7f}-\u{9f}][^\u{0}-\u{8}\u{b}-\u{1f}\u{7f}-\u{9f}]*$", "description": "Lock's notice or the message sent: text of 1 to 1000 characters, not only white space; line breaks and tabs are the only control characters it may hold"}, "whatIf": {"type": "boolean", "default": false}}}
                    ]
                },
                "ActionResponse": {
                    "type": "object",
                    "required": ["results"],
                    "properties": {"results": {"type": "array", "items": {"$ref": "#/components/schemas/TargetResult"}}}
                },
                "TargetResult": {
                    "type": "object",
                    "required": ["ComputerName", "SessionId", "Outcome"],
                    "properties": {
                        "ComputerName": {"type": "string"},
                        "SessionId": {"type": "integer"},
                        "UserName": {"type": "string"},
                        "Class": {"type": "string", "enum": ["user", "greeter", "lock-screen", "background", "manager"]},
                        "Outcome": {"type": "string", "enum": ["Done", "WhatIf", "NotFound", "AccessDenied", "OwnSession", "Skipped", "NotSupported", "Failed"]},
                        "Reason": {"type": "string"}
                    }
                }
            }
        }
    })
}
