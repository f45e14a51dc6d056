//! The OpenAPI document the agent serves at `/openapi.json`.

use serde_json::{json, Value};

pub fn document() -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "wmsd",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The wms agent: list the login sessions of this host and close, disconnect, lock or unlock them. Callers on the Unix socket are known by their peer credentials."
        },
        "paths": {
            "/v1/sessions": {
                "get": {
                    "summary": "Every login session on this host (Get-WmsSession -All)",
                    "responses": {
                        "200": {"description": "The sessions", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Session"}}}}},
                        "500": {"$ref": "#/components/responses/Error"}
                    }
                }
            },
            "/v1/actions": {
                "post": {
                    "summary": "Close, disconnect, lock or unlock sessions; every request is audited before it is answered",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ActionRequest"}}}},
                    "responses": {
                        "200": {"description": "One result per target", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ActionResponse"}}}},
                        "400": {"$ref": "#/components/responses/Error"},
                        "403": {"$ref": "#/components/responses/Error"},
                        "500": {"$ref": "#/components/responses/Error"}
                    }
                }
            },
            "/openapi.json": {
                "get": {"summary": "This document", "responses": {"200": {"description": "The OpenAPI document", "content": {"application/json": {"schema": {"type": "object"}}}}}}
            }
        },
        "components": {
            "responses": {
                "Error": {"description": "What was wrong", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "Session": {
                    "type": "object",
                    "required": ["SessionId", "State", "UserName", "DomainName", "IsAdmin", "ComputerName", "ProcessCount", "IsLocked"],
                    "properties": {
                        "SessionId": {"type": "integer", "format": "int64", "minimum": 0, "maximum": 4294967294u32},
                        "State": {"type": "string", "enum": ["RemoteConnection", "ConnectedToStation", "Disconnected"]},
                        "UserName": {"type": "string"},
                        "DomainName": {"type": "string"},
                        "IsAdmin": {"type": "boolean"},
                        "StationId": {"type": "integer", "minimum": 0},
                        "ComputerName": {"type": "string"},
                        "ClientName": {"type": "string"},
                        "Tty": {"type": "string"},
                        "Service": {"type": "string"},
                        "LogonTime": {"type": "string", "format": "date-time"},
                        "IdleSeconds": {"type": "integer", "minimum": 0},
                        "ProcessCount": {"type": "integer", "minimum": 0},
                        "LeaderPid": {"type": "integer"},
                        "IsLocked": {"type": "boolean"},
                        "LockMessage": {"type": "string"}
                    }
                },
                "ActionRequest": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["verb"],
                    "properties": {
                        "verb": {"type": "string", "enum": ["close", "disconnect", "lock", "unlock"]},
                        "sessionIds": {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 0, "maximum": 4294967295u32}},
                        "all": {"type": "boolean", "default": false},
                        "message": {"type": "string", "description": "Lock's message (required for lock)"},
                        "whatIf": {"type": "boolean", "default": false}
                    }
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
                        "Outcome": {"type": "string", "enum": ["Done", "WhatIf", "NotFound", "AccessDenied", "OwnSession", "Skipped", "NotSupported", "Failed"]},
                        "Reason": {"type": "string"}
                    }
                }
            }
        }
    })
}
