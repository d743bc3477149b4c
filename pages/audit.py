"""The audit view for admins (``/audit``): entries newest first, filtered by action and actor,
paged by sequence number, with the result of the hash-chain check. Each view is audited."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import flask
from markupsafe import Markup, escape
from sqlalchemy import Engine

from pages import auth
from store import audit
from store.access import allowed

PATH = "/audit"
PAGE_ROWS = 50

_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>审计日志 Audit log · Sightline 视界</title>
<style>
body {{ margin: 0; font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans",
  "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; color: #1f2933; }}
header {{ display: flex; gap: 1.5rem; align-items: baseline; padding: 0.5rem 1rem;
  background: #1f2d3d; color: #f5f7fa; }}
header a {{ color: #f5f7fa; }}
header button {{ color: #f5f7fa; background: transparent; border: 1px solid #9aa5b1;
  border-radius: 4px; padding: 2px 8px; cursor: pointer; }}
main {{ padding: 0.5rem 1rem; }}
table {{ border-collapse: collapse; font-size: 0.85rem; width: 100%; }}
th, td {{ border-bottom: 1px solid #d9e2ec; padding: 0.2rem 0.4rem; text-align: left;
  vertical-align: top; }}
.sl-chain-ok {{ color: #1a7f37; }} .sl-chain-bad {{ color: #b42318; font-weight: 600; }}
td.sl-details {{ font-family: monospace; max-width: 30rem; overflow-wrap: anywhere; }}
</style>
<script src="/assets/sightline-auth.js"></script>
</head><body>
<header><h1 style="margin:0;font-size:1.2rem">审计日志 Audit log</h1>
<a href="/">地图 Map</a><span>{who}</span>
<button type="button" data-sl-logout="1" id="logout-button">退出 Log out</button></header>
<main>
<p id="audit-chain" class="{chain_class}">{chain}</p>
<form method="get" action="{path}" id="audit-filter">
<label>操作 Action <select name="action"><option value="">(all 全部)</option>{options}
</select></label>
<label>操作者 Actor <input type="text" name="actor" value="{actor}"
 placeholder="user:name"></label>
<button type="submit">筛选 Filter</button></form>
<table id="audit-entries"><thead><tr><th>#</th><th>时间 Time (UTC)</th><th>操作者 Actor</th>
<th>角色 Role</th><th>操作 Action</th><th>对象 Target</th><th>结果 Outcome</th>
<th>详情 Details</th></tr></thead><tbody>
{rows}
</tbody></table>
{more}
</main></body></html>
"""


def _row(e: dict[str, Any]) -> str:
    details = json.dumps(e["details"], ensure_ascii=False, sort_keys=True)
    cells = (e["seq"], f"{e['at']:%Y-%m-%d %H:%M:%S}", e["actor"], e["role"], e["action"],
             e["target"], e["outcome"])  # fmt: skip
    tds = "".join(f"<td>{escape(str(c))}</td>" for c in cells)
    return (f'<tr data-seq="{int(e["seq"])}" data-action="{escape(e["action"])}">{tds}'
            f'<td class="sl-details">{escape(details)}</td></tr>')  # fmt: skip


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def view(engine: Engine) -> flask.Response:
    """The page; one ``audit.view`` entry per request (in the transaction that reads)."""
    who = auth.principal()
    if not allowed(who, "admin"):  # the guard refused already; checked again where it matters
        flask.abort(403)
    args = flask.request.args
    action = args.get("action") or None
    if action not in audit.ACTIONS:
        action = None
    actor = (args.get("actor") or "").strip()[:200] or None
    before = _int(args.get("before"))
    with engine.begin() as conn:
        report = audit.verify_chain(conn)
        rows = audit.entries(conn, action=action, actor=actor, before_seq=before,
                             limit=PAGE_ROWS)  # fmt: skip
        audit.record(conn, who, "audit.view", "audit_log",
                     details={"action": action, "actor": actor, "before": before})  # fmt: skip
    if report.ok:
        chain = f"哈希链完整 Hash chain intact: {report.rows} entries, head {report.head[:16]}…"
    else:
        chain = (f"哈希链断裂 Hash chain BROKEN at entry {report.first_bad_seq}: "
                 f"{report.reason}")  # fmt: skip
    options = "".join(
        f'<option value="{escape(a)}"{" selected" if a == action else ""}>{escape(a)}</option>'
        for a in audit.ACTIONS
    )
    more = ""
    if len(rows) == PAGE_ROWS:
        q = {k: v for k, v in (("action", action), ("actor", actor)) if v}
        q["before"] = str(rows[-1]["seq"])
        more = (f'<p><a id="audit-older" href="{PATH}?{escape(urllib.parse.urlencode(q))}">'
                "更早 Older entries →</a></p>")  # fmt: skip
    body = _PAGE.format(
        who=escape(f"{who.user_name} · {who.role}"), chain=escape(chain),
        chain_class="sl-chain-ok" if report.ok else "sl-chain-bad", path=PATH,
        options=Markup(options), actor=escape(actor or ""),
        rows="\n".join(_row(e) for e in rows), more=more,
    )  # fmt: skip
    resp = flask.make_response(body, 200)
    resp.headers["Content-Type"] = "text/html; charset=utf-8"
    resp.headers["Cache-Control"] = "no-store"
    return resp


def install(server: flask.Flask, engine: Engine) -> None:
    """Add ``/audit`` (the guard lets only admins in: ``pages.auth.ROUTES``)."""
    server.add_url_rule(PATH, "audit", lambda: view(engine), methods=["GET"])
