//! The OpenAPI 3 document, made from the route list: the same parameters with the same kinds and
//! bounds the server checks, every status a route can answer, and the content types it answers
//! with.

use super::limits::{
    MAX_HEAD_BYTES, MAX_REPEATS, PAGE_DEFAULT, PAGE_MAX, RETRY_AFTER_SECS, TEXT_MAX_CHARS,
};
use super::params::{CURSOR_PATTERN, In, Kind, Param, TIME_PATTERN};
use super::routes::{Access, Answer, Cost, Endpoint, ROUTES, Route};
use super::tiles::TILE_PATTERN;
use crate::reports::ReportName;
use idledger_proto::decode::MAX_ID_CHARS;
use idledger_proto::event::EventType;
use idledger_proto::export::RecordFormat;
use serde_json::{Value, json};

const REFUSALS: &str = "A query parameter the operation does not list, a parameter given twice, \
and a request body are refused with 400: the server takes exactly the parameters listed, with \
no additional properties. Times are RFC 3339 date-times (`T` between date and time, no leap \
second) in the years 1678 to 2261; a `+` in an offset must be percent-encoded (%2B).";

fn schema(kind: Kind) -> Value {
    match kind {
        Kind::Flag => json!({ "type": "boolean" }),
        Kind::Time => json!({ "type": "string", "format": "date-time", "pattern": TIME_PATTERN }),
        Kind::Integer { min, max } => {
            json!({ "type": "integer", "minimum": min, "maximum": max })
        }
        Kind::Text => {
            json!({ "type": "string", "minLength": 1, "maxLength": TEXT_MAX_CHARS })
        }
        Kind::Report => {
            let names: Vec<&str> = ReportName::ALL.iter().map(|r| r.as_str()).collect();
            json!({ "type": "string", "enum": names })
        }
        Kind::Cursor => json!({ "type": "string", "pattern": CURSOR_PATTERN }),
        Kind::Tile => json!({ "type": "string", "pattern": TILE_PATTERN }),
        Kind::OneOf(words) => json!({ "type": "string", "enum": words }),
        Kind::EventType => {
            let names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
            json!({ "type": "string", "enum": names })
        }
        Kind::Identifier => {
            json!({ "type": "string", "minLength": 1, "maxLength": MAX_ID_CHARS })
        }
        Kind::ExportFormat => {
            let names: Vec<&str> = RecordFormat::ALL.iter().map(|f| f.as_str()).collect();
            json!({ "type": "string", "enum": names })
        }
    }
}

fn parameter(p: &Param) -> Value {
    let mut v = json!({
        "name": p.name,
        "in": match p.at { In::Path => "path", In::Query => "query" },
        "required": p.required,
        "description": p.description,
        "schema": schema(p.kind),
    });
    if p.repeatable {
        // `name=a&name=b`: OpenAPI's form style, exploded.
        v["schema"] = json!({ "type": "array", "items": schema(p.kind), "maxItems": MAX_REPEATS });
        v["style"] = json!("form");
        v["explode"] = json!(true);
    }
    if let Some(e) = p.example {
        v["example"] = match (p.kind, e.parse::<u64>()) {
            (Kind::Integer { .. }, Ok(n)) => json!(n),
            _ => json!(e),
        };
    }
    v
}

fn operation_id(e: Endpoint) -> &'static str {
    match e {
        Endpoint::Checkpoint => "checkpoint",
        Endpoint::Entry => "entry",
        Endpoint::Entries => "entries",
        Endpoint::Consistency => "consistency",
        Endpoint::History => "history",
        Endpoint::Grant => "grant",
        Endpoint::Access => "access",
        Endpoint::Report => "report",
        Endpoint::Metrics => "metrics",
        Endpoint::Healthz => "healthz",
        Endpoint::OpenApi => "openapi",
        Endpoint::TlogCheckpoint => "tlog_checkpoint",
        Endpoint::HashTile => "tlog_hash_tile",
        Endpoint::EntryBundle => "tlog_entry_bundle",
    }
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "headers": { "x-request-id": { "$ref": "#/components/headers/RequestId" } },
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
    })
}

/// Every status `route` can answer, and what each means.
fn responses(route: &Route) -> Value {
    let ok = match route.answer {
        Answer::Json(name) => {
            json!({ "application/json": { "schema": { "$ref": format!("#/components/schemas/{name}") } } })
        }
        Answer::Text(content_type) => json!({ content_type: { "schema": { "type": "string" } } }),
        Answer::Bytes => {
            json!({ "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } })
        }
        Answer::Stream => json!({
            "application/x-ndjson": { "schema": { "type": "string" } },
            "text/plain; charset=utf-8": { "schema": { "type": "string" } },
            "text/event-stream": { "schema": { "type": "string" } }
        }),
    };
    let mut answer = json!({
        "description": "the answer",
        "headers": { "x-request-id": { "$ref": "#/components/headers/RequestId" } },
        "content": ok
    });
    if route.access == Access::Tiles {
        answer["headers"]["Cache-Control"] = json!({
            "description": cache_policy(route.endpoint),
            "required": true,
            "schema": { "type": "string" }
        });
    }
    let mut r = serde_json::Map::new();
    r.insert("200".into(), answer);
    r.insert(
        "400".into(),
        error_response("a parameter is unknown, repeated, missing or out of its bounds, or the request has a body"),
    );
    if route.access != Access::Open {
        r.insert(
            "401".into(),
            error_response("no bearer token, or one nobody holds"),
        );
        r.insert(
            "403".into(),
            error_response("the token's role may not read this route"),
        );
    }
    let names_something = route.params.iter().any(|p| p.at == In::Path)
        || matches!(
            route.endpoint,
            Endpoint::Access | Endpoint::Consistency | Endpoint::Entries
        );
    if route.access == Access::Tiles {
        let what = if route.endpoint == Endpoint::TlogCheckpoint {
            ""
        } else {
            "not in the latest checkpoint's tree (past its end, or wider than it has there), or "
        };
        r.insert(
            "404".into(),
            error_response(&format!(
                "{what}the tlog-tiles routes are turned off (`[serve] tiles = \"off\"`)"
            )),
        );
    } else if names_something {
        r.insert(
            "404".into(),
            error_response("no such entry, identity, grant, report or consistency proof"),
        );
    }
    // Answered by the HTTP layer before the request is routed: no body, no request id.
    r.insert(
        "431".into(),
        json!({ "description": format!("the request's head (request line and headers) is larger than {MAX_HEAD_BYTES} bytes") }),
    );
    r.insert(
        "500".into(),
        error_response("an internal error: the body holds only the request id the server's log files the details under"),
    );
    let busy = if route.cost == Cost::Free {
        "the request took longer than the server allows"
    } else {
        "the server is answering as many such requests as it allows, or the request took longer than it allows"
    };
    let mut unavailable = error_response(busy);
    unavailable["headers"]["Retry-After"] = json!({
        "description": format!("seconds to wait before trying again ({RETRY_AFTER_SECS})"),
        "schema": { "type": "integer", "minimum": 0 }
    });
    r.insert("503".into(), unavailable);
    Value::Object(r)
}

/// What a tlog-tiles answer's `Cache-Control` says, and why.
fn cache_policy(endpoint: Endpoint) -> &'static str {
    if endpoint == Endpoint::TlogCheckpoint {
        "`no-cache` (`private, no-cache` with `tiles = \"auditor\"`): the checkpoint changes as the log grows"
    } else {
        "`public, max-age=31536000, immutable` (`private, …` with `tiles = \"auditor\"`): a tile's path names bytes that never change"
    }
}

fn operation(route: &Route) -> Value {
    let who = match route.access {
        Access::Role(need) => format!("Requires role: {}.", need.role_name()),
        Access::Open => "Open to anyone, without a token.".to_owned(),
        Access::Tiles => "c2sp.org/tlog-tiles, open to anyone by default: a tile reveals what a proof bundle does. `[serve] tiles = \"auditor\"` requires role auditor or admin; `tiles = \"off\"` answers 404.".to_owned(),
    };
    let security = match route.access {
        Access::Role(_) => json!([{ "bearer": [] }]),
        Access::Open => json!([]),
        // Optional: as the server's setting says.
        Access::Tiles => json!([{}, { "bearer": [] }]),
    };
    json!({ "get": {
        "operationId": operation_id(route.endpoint),
        "summary": route.summary,
        "description": format!("{who} {REFUSALS}"),
        "security": security,
        "parameters": route.params.iter().map(parameter).collect::<Vec<_>>(),
        "responses": responses(route),
    }})
}

fn schemas() -> Value {
    let names: Vec<&str> = ReportName::ALL.iter().map(|r| r.as_str()).collect();
    json!({
        "Error": {
            "type": "object",
            "properties": { "error": { "type": "string" }, "request_id": { "type": "string" } },
            "required": ["error"]
        },
        "Object": { "type": "object" },
        "Health": {
            "type": "object",
            "properties": {
                "status": { "type": "string", "enum": ["ok"] },
                "tree_size": { "type": "integer", "minimum": 0 }
            },
            "required": ["status", "tree_size"]
        },
        "ReportPage": {
            "type": "object",
            "properties": {
                "name": { "type": "string", "enum": names },
                "now": { "type": "string" },
                "group_by": { "type": "string", "nullable": true },
                "groups": { "type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "key": { "type": "string" },
                        "figures": { "type": "object", "additionalProperties": { "type": "number", "nullable": true } },
                        "items": { "type": "array", "items": {
                            "type": "object",
                            "properties": {
                                "kind": { "type": "string" },
                                "id": { "type": "string" },
                                "detail": { "type": "string" },
                                "index": { "type": "integer", "minimum": 0, "nullable": true }
                            },
                            "required": ["kind", "id", "detail", "index"]
                        }}
                    },
                    "required": ["key", "figures", "items"]
                }},
                "page": {
                    "type": "object",
                    "description": format!("rows are the items of the groups, and each group without items; pages hold {PAGE_DEFAULT} rows unless `limit` asks for another number, at most {PAGE_MAX}"),
                    "properties": {
                        "cursor": { "type": "string" },
                        "limit": { "type": "integer", "minimum": 1, "maximum": PAGE_MAX },
                        "next_cursor": { "type": "string", "nullable": true },
                        "rows": { "type": "integer", "minimum": 0 }
                    },
                    "required": ["cursor", "limit", "next_cursor", "rows"]
                }
            },
            "required": ["name", "now", "group_by", "groups", "page"]
        }
    })
}

/// The OpenAPI 3 description of every route.
pub fn openapi_document() -> Value {
    let mut paths = serde_json::Map::new();
    for route in ROUTES {
        paths.insert(route.path.to_owned(), operation(route));
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "idledger",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!("Read-only API of an idledger audit ledger. Every answer can carry proofs checkable offline with the ledger's verifier key. {REFUSALS}")
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "headers": { "RequestId": {
                "description": "the request's id, which the server's log names it by",
                "schema": { "type": "string" }
            }},
            "schemas": schemas()
        },
        "paths": Value::Object(paths)
    })
}
