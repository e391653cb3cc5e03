//! The OpenAPI 3 description served at `/api/v1/openapi.json`. Written by
//! hand next to the handlers (a test checks every route is described).

use serde_json::{json, Value};

fn param(name: &str, kind: &str, desc: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": {"type": kind}, "description": desc})
}

fn path_param(name: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}})
}

fn error_response(desc: &str) -> Value {
    json!({"description": desc, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn ok_json(desc: &str, schema: Value) -> Value {
    json!({"description": desc, "content": {"application/json": {"schema": schema}}})
}

fn series_schema() -> Value {
    json!({"type": "array", "items": {"$ref": "#/components/schemas/DayCount"}})
}

/// The whole document.
pub fn document() -> Value {
    let ingest_answer = json!({"$ref": "#/components/schemas/IngestAnswer"});
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "panicdump crash server",
            "version": "1",
            "description": "Ingest panicdump report bundles and query crash buckets. See docs/server-api.md."
        },
        "paths": {
            "/api/v1/reports": {"post": {
                "summary": "Upload one report bundle (.tar.gz from `panicdump report`)",
                "security": [{"bearer": []}],
                "parameters": [
                    {"name": "X-Panicdump-Machine", "in": "header", "required": true, "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}},
                    {"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string"}}
                ],
                "requestBody": {"required": true, "content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}}},
                "responses": {
                    "201": ok_json("stored", ingest_answer.clone()),
                    "200": ok_json("this machine already sent this record (duplicate: true)", ingest_answer.clone()),
                    "400": error_response("not a valid bundle"),
                    "401": error_response("missing, unknown or revoked token"),
                    "408": error_response("the body did not arrive in time"),
                    "413": error_response("over the upload or unpacked size cap"),
                    "415": error_response("Content-Type is not application/gzip"),
                    "429": error_response("the token used its uploads of this minute; see Retry-After")
                }
            }},
            "/api/v1/drm-panic": {"post": {
                "summary": "File the log of a drm_panic QR-code URL (the URL as text/plain)",
                "security": [{"bearer": []}],
                "requestBody": {"required": true, "content": {"text/plain": {"schema": {"type": "string"}}}},
                "responses": {
                    "201": ok_json("stored", ingest_answer.clone()),
                    "200": ok_json("already filed", ingest_answer),
                    "400": error_response("not a drm_panic URL"),
                    "401": error_response("token"),
                    "415": error_response("Content-Type is not text/plain"),
                    "429": error_response("the token used its uploads of this minute; see Retry-After")
                }
            }},
            "/drm-panic": {"get": {
                "summary": "The URL a phone opens from the kernel's panic QR code; answers HTML",
                "parameters": [param("a", "string", "machine architecture"), param("v", "string", "kernel release"), param("z", "string", "digits (6.14+)"), param("zl", "string", "digits (6.12, 6.13)")],
                "responses": {"200": {"description": "no parameters: a landing page whose script moves a '#' fragment holding them into the query (HTML)"}, "201": {"description": "filed (HTML)"}, "400": {"description": "not decodable (HTML)"}, "429": {"description": "rate limited (HTML)"}}
            }},
            "/api/v1/buckets": {"get": {
                "summary": "Crash buckets with statistics",
                "parameters": [
                    param("release", "string", "kernel release, exact"),
                    param("kind", "string", "crash kind, exact"),
                    param("since", "integer", "received at or after, Unix seconds"),
                    param("until", "integer", "received before, Unix seconds"),
                    param("q", "string", "substring of the title, case-insensitive"),
                    {"name": "sort", "in": "query", "schema": {"type": "string", "enum": ["count", "machines", "first_seen", "last_seen"], "default": "count"}},
                    {"name": "order", "in": "query", "schema": {"type": "string", "enum": ["desc", "asc"], "default": "desc"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}},
                    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}}
                ],
                "responses": {
                    "200": ok_json("a page of buckets", json!({"type": "object", "properties": {"total": {"type": "integer"}, "buckets": {"type": "array", "items": {"$ref": "#/components/schemas/Bucket"}}}})),
                    "400": error_response("bad parameter")
                }
            }},
            "/api/v1/buckets/{bucket_id}": {"get": {
                "summary": "One bucket, its daily series and its latest 50 reports",
                "parameters": [path_param("bucket_id")],
                "responses": {
                    "200": ok_json("the bucket", json!({"type": "object", "properties": {
                        "bucket": {"$ref": "#/components/schemas/Bucket"},
                        "series": series_schema(),
                        "reports": {"type": "array", "items": {"$ref": "#/components/schemas/ReportSummary"}}}})),
                    "404": error_response("no such bucket")
                }
            }},
            "/api/v1/reports/{report_id}": {"get": {
                "summary": "One report with its log and analysis",
                "parameters": [path_param("report_id")],
                "responses": {"200": ok_json("the report", json!({"$ref": "#/components/schemas/Report"})), "404": error_response("no such report")}
            }},
            "/api/v1/reports/{report_id}/bundle": {"get": {
                "summary": "The stored bundle",
                "parameters": [path_param("report_id")],
                "responses": {"200": {"description": "the .tar.gz", "content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}}}, "404": error_response("no such report, or its bundle was removed by retention")}
            }},
            "/api/v1/stats/series": {"get": {
                "summary": "Reports received per UTC day, zero days included",
                "parameters": [
                    {"name": "days", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 3660, "default": 30}},
                    param("release", "string", "kernel release, exact"),
                    param("kind", "string", "crash kind, exact")
                ],
                "responses": {"200": ok_json("the series", json!({"type": "object", "properties": {"series": series_schema()}})), "400": error_response("bad parameter")}
            }},
            "/api/v1/facets": {"get": {
                "summary": "Releases and kinds present, for filter menus",
                "responses": {"200": ok_json("facets", json!({"type": "object", "properties": {"releases": {"type": "array", "items": {"type": "string"}}, "kinds": {"type": "array", "items": {"type": "string"}}}}))}
            }},
            "/api/v1/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3"}}}},
            "/healthz": {"get": {"summary": "Liveness", "responses": {"200": {"description": "ok", "content": {"text/plain": {"schema": {"type": "string"}}}}}}}
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
                "IngestAnswer": {"type": "object", "properties": {
                    "report_id": {"type": "string"}, "bucket_id": {"type": "string"}, "duplicate": {"type": "boolean"},
                    "title": {"type": "string"}, "kind": {"type": "string"}, "signature_hash": {"type": "string"}}},
                "DayCount": {"type": "object", "properties": {"day": {"type": "string", "format": "date"}, "count": {"type": "integer"}}},
                "Bucket": {"type": "object", "properties": {
                    "id": {"type": "string"}, "signature_hash": {"type": "string"}, "title": {"type": "string"}, "kind": {"type": "string"},
                    "count": {"type": "integer"}, "machines": {"type": "integer"},
                    "first_seen": {"type": "integer", "description": "Unix seconds"}, "last_seen": {"type": "integer", "description": "Unix seconds"},
                    "releases": {"type": "array", "items": {"type": "string"}}}},
                "ReportSummary": {"type": "object", "properties": {
                    "id": {"type": "string"}, "bucket_id": {"type": "string"}, "received_at": {"type": "integer"},
                    "crash_time": {"type": "integer", "nullable": true}, "release": {"type": "string", "nullable": true},
                    "machine": {"type": "string", "description": "first 12 hex of the machine hash"},
                    "source": {"type": "string", "enum": ["bundle", "drm_panic"]}}},
                "Report": {"allOf": [{"$ref": "#/components/schemas/ReportSummary"}, {"type": "object", "properties": {
                    "title": {"type": "string"}, "kind": {"type": "string"}, "signature_hash": {"type": "string"},
                    "client_title": {"type": "string", "nullable": true},
                    "log": {"type": "string", "nullable": true, "description": "null once retention removed it"},
                    "report_line": {"type": "integer", "nullable": true},
                    "analysis": {"type": "object", "nullable": true, "description": "oops::Analysis"}}}]}
            }
        }
    })
}
