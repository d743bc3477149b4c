"""Using the Sightline HTTP API from Python: list, import, analyse and query, with the
standard library only (urllib).

    python scripts/api_example.py --url http://127.0.0.1:8051 --token-file my.token
        [--survey cameras.csv --crs wgs84] [--dry-run] [--pages 3] [--limit 100]

The token needs a role that may import, analyse, read coverage and take alarms (an admin;
create one with `sightline token create NAME --role admin`). Steps: list cameras page by
page (following ``next`` links), import a survey file (without --survey: a one-camera CSV
written next to the first camera listed), start a coverage run and poll its job, read the
run's assessment rows, ask which cameras see a point, and post an alarm there. Errors are
RFC 9457 problem details; a 429 is retried after its Retry-After.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin


class ApiError(RuntimeError):
    """An error answer of the API: its status and problem details."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        fields = problem.get("invalid_params")
        super().__init__(f"{status} {problem.get('title', '')}: {problem.get('detail', '')}"
                         + (f" (fields: {', '.join(map(str, fields))})" if fields else ""))
        self.status, self.problem = status, problem


class Client:
    """A tiny API client: bearer token, JSON in and out, problem details as ApiError."""

    def __init__(self, base_url: str, token: str, timeout_s: float = 60.0) -> None:
        self.base = base_url.rstrip("/") + "/"
        self.token = token
        self.timeout_s = timeout_s

    def request(self, method: str, path: str, body: Any = None, *, data: bytes | None = None,
                content_type: str | None = None) -> tuple[int, dict[str, str], Any]:  # fmt: skip
        """(status, headers, parsed JSON body) of one request; retries 429 after Retry-After."""
        url = urljoin(self.base, path.lstrip("/")) if not path.startswith("http") else path
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if body is not None:
            data, content_type = json.dumps(body).encode("utf-8"), "application/json"
        if content_type:
            headers["Content-Type"] = content_type
        for _attempt in range(5):
            req = urllib.request.Request(url, data=data, method=method, headers=headers)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    raw, status, hdrs = resp.read(), resp.status, dict(resp.headers)
                return status, hdrs, json.loads(raw) if raw else None
            except urllib.error.HTTPError as exc:
                with exc:
                    raw, status, hdrs = exc.read(), exc.code, dict(exc.headers)
                if status == 429:
                    time.sleep(float(hdrs.get("Retry-After", "1")))
                    continue
                try:
                    problem = json.loads(raw)
                except ValueError:
                    problem = {"detail": raw.decode("utf-8", "replace")}
                raise ApiError(status, problem) from None
        raise ApiError(429, {"title": "Too Many Requests", "detail": "gave up after 5 tries"})

    def get(self, path: str, **query: Any) -> Any:
        q = ("?" + urlencode(query)) if query else ""
        return self.request("GET", path + q)[2]

    def post(self, path: str, body: Any) -> tuple[int, dict[str, str], Any]:
        return self.request("POST", path, body)

    def upload(self, path: str, file: Path, **query: Any) -> Any:
        """POST a file as multipart/form-data (field "file")."""
        boundary = uuid.uuid4().hex
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="{file.name}"\r\nContent-Type: application/octet-stream\r\n\r\n')
        data = head.encode() + file.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
        q = ("?" + urlencode(query)) if query else ""
        return self.request("POST", path + q, data=data,
                            content_type=f"multipart/form-data; boundary={boundary}")[2]


def list_cameras(api: Client, limit: int, pages: int) -> list[dict[str, Any]]:
    """Up to ``pages`` pages of cameras, following the ``next`` links."""
    url: str | None = f"collections/cameras/items?{urlencode({'limit': limit})}"
    cameras: list[dict[str, Any]] = []
    for page in range(1, pages + 1):
        if not url:
            break
        body = api.get(url)
        cameras += body["features"]
        matched = body.get("numberMatched")
        print(f"  page {page}: {body['numberReturned']} cameras"
              + (f" of {matched}" if matched is not None else ""))
        url = next((lk["href"] for lk in body["links"] if lk["rel"] == "next"), None)
    return cameras


def one_camera_csv(near: dict[str, Any], directory: Path) -> Path:
    """A survey CSV with one new camera 20 m east of ``near`` (same 14-digit id prefix)."""
    lon, lat = near["geometry"]["coordinates"]
    device_id = str(near["id"])[:14] + f"{900000 + uuid.uuid4().int % 99999:06d}"
    path = directory / "one_camera.csv"
    path.write_text(
        "device_id,name,lon,lat,azimuth_deg,tilt_deg,mount_height_m,focal_length_mm,"
        "resolution,sensor\n"
        f"{device_id},API example camera,{lon + 0.00025:.7f},{lat:.7f},90,10,6,4,"
        '2560x1440,"1/2.8"""\n', encoding="utf-8")  # fmt: skip
    return path


def wait_for_job(api: Client, location: str, poll_s: float = 0.5,
                 timeout_s: float = 3600) -> dict[str, Any]:  # fmt: skip
    """Poll a job until it is done or failed, printing its progress."""
    deadline = time.monotonic() + timeout_s
    last = None
    while True:
        job = api.get(location)
        progress = (job["status"], job["progress"]["phase"])
        if progress != last:
            print(f"  job {job['id']}: {job['status']:<8} {job['progress']['phase'] or '':<14} "
                  f"{100 * job['progress']['fraction']:5.1f} %")
            last = progress
        if job["status"] in ("done", "failed"):
            return dict(job)
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job['id']} still {job['status']} after {timeout_s} s")
        time.sleep(poll_s)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="http://127.0.0.1:8051", help="API base URL")
    tok = ap.add_mutually_exclusive_group(required=True)
    tok.add_argument("--token-file", type=Path, help="file holding the token (safer)")
    tok.add_argument("--token", help="the token itself (visible in the process list)")
    ap.add_argument("--survey", type=Path, help="survey file of cameras to import")
    ap.add_argument("--crs", default="wgs84", help="coordinate system of the survey file")
    ap.add_argument("--dry-run", action="store_true", help="check the import, write nothing")
    ap.add_argument("--limit", type=int, default=100, help="cameras per page")
    ap.add_argument("--pages", type=int, default=3, help="pages of cameras to list at most")
    args = ap.parse_args(argv)
    token = args.token or args.token_file.read_text(encoding="utf-8").strip()
    api = Client(args.url, token)
    try:
        print("1. cameras (OGC API - Features, keyset paging)")
        cameras = list_cameras(api, args.limit, args.pages)
        if not cameras:
            print("no camera in your jurisdiction: nothing more to show")
            return 1
        print(f"2. survey import ({'dry run' if args.dry_run else 'upsert'})")
        with tempfile.TemporaryDirectory() as tmp:
            survey = args.survey or one_camera_csv(cameras[0], Path(tmp))
            report = api.upload("imports/cameras", survey, crs=args.crs,
                                dry_run=str(args.dry_run).lower())  # fmt: skip
        print(f"  {survey.name}: counts {report['counts']}, {len(report['errors'])} error(s)")
        print("3. coverage run (a job)")
        status, headers, job = api.post("coverage/runs", {"target_height_m": 0})
        print(f"  {status} Location: {headers['Location']}")
        job = wait_for_job(api, headers["Location"])
        if job["status"] != "done":
            print(f"  the run failed: {job['error']}")
            return 1
        result = next(lk["href"] for lk in job["links"] if lk["rel"] == "result")
        run = api.get(result, kind="jurisdiction")
        print(f"  run {run['id']}: {len(run['assessment'])} jurisdiction rows, e.g.")
        for row in run["assessment"][:4]:
            print(f"    {row['area_key']:<10} {row['level']:<10} {row['covered_pct']:6.1f} %")
        lon, lat = cameras[0]["geometry"]["coordinates"]
        lon += 0.0001  # a few metres in front of the first camera, roughly
        print(f"4. which cameras see ({lon:.6f}, {lat:.6f})")
        seen = api.get("coverage/which-cameras", lon=lon, lat=lat, run=run["id"])
        for cam in seen["cameras"][:5]:
            print(f"    {cam['device_id']} {cam['dori_level']:<10} {cam['distance_m']} m")
        print(f"  {len(seen['cameras'])} camera(s)")
        print("5. alarm intake")
        status, _, alarm = api.post("alarms", {"lon": lon, "lat": lat, "kind": "110",
                                               "description": "API example"})  # fmt: skip
        print(f"  {status}: alarm {alarm['alarm_id']} in {alarm['jurisdiction']}, "
              f"{len(alarm['cameras'])} camera(s) with signed stream URLs")
    except ApiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
