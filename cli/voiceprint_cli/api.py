"""A small client of the results API: every request SigV4-signed for execute-api (the routes are IAM-authorised),
with the caller's AWS credentials, or the local stack's.

The signed request carries the caller's session token, so it goes only where it belongs: https to an execute-api
host (or a host the caller names, such as a custom domain), plain http only to loopback for the local stack, and
redirects are never followed."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

LOCAL_URL = "http://127.0.0.1:3000"
_REGION_IN_HOST = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com")
_EXECUTE_API_HOST = re.compile(r"[a-z0-9]+\.execute-api\.[a-z0-9-]+\.amazonaws\.com(\.cn)?")
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def checked_url(base_url: str, *, local: bool, allowed_hosts: Collection[str] = ()) -> str:
    """`base_url` if signed requests may go there, else ApiError(0) saying why."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    if local:
        if host not in LOOPBACK or parts.scheme not in ("http", "https"):
            raise ApiError(0, f"--local talks to loopback only, not {host or base_url!r}")
        return base_url
    if parts.scheme != "https":
        raise ApiError(0, f"refusing {parts.scheme or 'a scheme-less'} URL: the results API is https")
    if not (_EXECUTE_API_HOST.fullmatch(host) or host in {h.lower() for h in allowed_hosts}):
        raise ApiError(0, f"{host!r} is not an execute-api host; name it with --allow-host if it is yours")
    return base_url


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


@dataclass
class ResultsApi:
    base_url: str
    credentials: Credentials
    region: str
    timeout: float = 10.0

    @classmethod
    def connect(
        cls,
        base_url: str,
        *,
        credentials: Credentials | None = None,
        region: str | None = None,
        local: bool = False,
        allowed_hosts: Collection[str] = (),
    ) -> ResultsApi:
        checked_url(base_url, local=local, allowed_hosts=allowed_hosts)
        if credentials is None:
            import boto3

            session = boto3.Session()
            found = session.get_credentials()
            if found is None:
                raise SystemExit("no AWS credentials found (the results API is IAM-authorised)")
            credentials = found.get_frozen_credentials()  # type: ignore[assignment]
            region = region or session.region_name
        match = _REGION_IN_HOST.search(base_url)
        region = region or (match.group(1) if match else None)
        if not region:
            raise SystemExit("cannot tell the API's region: pass --region")
        assert credentials is not None
        return cls(base_url.rstrip("/"), credentials, region)

    def get(self, path: str, **query: str) -> Any:
        # Spaces as %20, not urlencode's "+": SigV4 signs the query as sent, and a "+" is a plus to the signer but
        # a space to the server that checks the signature (so a key with a space was refused, 403).
        url = self.base_url + path + (f"?{urlencode(query, quote_via=quote)}" if query else "")
        request = AWSRequest(method="GET", url=url, headers={"Accept": "application/json"})
        SigV4Auth(self.credentials, "execute-api", self.region).add_auth(request)
        try:
            resp = requests.get(url, headers=dict(request.headers.items()), timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise ApiError(0, f"cannot reach {self.base_url} ({type(exc).__name__})") from None
        if resp.is_redirect or 300 <= resp.status_code < 400:
            raise ApiError(resp.status_code, "redirect refused: the results API never redirects")
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise ApiError(resp.status_code, _message(resp))
        return resp.json()

    def job(self, job_id: str, *, voiceprint: bool = False) -> dict[str, Any] | None:
        from urllib.parse import quote

        found = self.get(f"/jobs/{quote(job_id, safe='')}", **({"voiceprint": "true"} if voiceprint else {}))
        return dict(found) if found else None

    def object_versions(
        self, key: str, bucket: str | None = None, *, voiceprint: bool = False, result: bool = False
    ) -> list[dict[str, Any]]:
        query = {
            "key": key,
            **({"bucket": bucket} if bucket else {}),
            **({"voiceprint": "true"} if voiceprint else {}),
            **({"result": "true"} if result else {}),
        }
        found = self.get("/objects", **query)
        return list(found["versions"]) if found else []

    def voiceprints(self, group: str | None, label: str | None = None, cursor: str | None = None) -> dict[str, Any]:
        """A group's voiceprints, or (group None) one label's in every group."""
        query = {
            **({"group": group} if group is not None else {}),
            **({"label": label} if label else {}),
            **({"next": cursor} if cursor else {}),
        }
        return dict(self.get("/voiceprints", **query))

    def health(self, group: str) -> dict[str, Any]:
        """A group's per-label health (`group` "" is the top level)."""
        from urllib.parse import quote

        name = quote(group.rstrip("/"), safe="") if group else "~"
        return dict(self.get(f"/groups/{name}/health") or {})


def _message(resp: requests.Response) -> str:
    try:
        return str(resp.json().get("message", resp.text))
    except ValueError:
        return resp.text[:200]
