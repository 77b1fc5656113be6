"""The webhook egress guard: which addresses the notifier may POST to, and how it reaches them."""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from api.notifications.adapters import DeliveryFailed, HttpWebhookPoster, Undeliverable, WebhookCall, build_adapters
from api.notifications.egress import ALLOWED_NETWORKS_ENV, EgressPolicy, IPAddress, ResolutionFailed, resolve
from api.notifications.settings import NotifierSettings

PUBLIC_ONLY = EgressPolicy.of([])
PRODUCTION_KEY = "k" * 40


def ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "a loopback"),
        ("127.8.9.10", "a loopback"),
        ("::1", "a loopback"),
        ("10.0.0.5", "a private"),
        ("172.16.3.4", "a private"),
        ("192.168.1.1", "a private"),
        ("fd12:3456::1", "a private"),
        ("169.254.169.254", "a link-local (cloud metadata)"),
        ("169.254.1.1", "a link-local"),
        ("fe80::1", "a link-local"),
        ("0.0.0.0", "an unspecified"),
        ("::", "an unspecified"),
        ("224.0.0.1", "a multicast"),
        ("ff02::1", "a multicast"),
        ("240.0.0.1", "a reserved"),
        ("100.64.0.1", "a shared (carrier-grade NAT)"),
        ("::ffff:127.0.0.1", "a loopback"),
        ("::ffff:169.254.169.254", "a link-local (cloud metadata)"),
        ("2002:7f00:1::", "a loopback"),  # 6to4 wrapping of 127.0.0.1
    ],
)
def test_non_public_addresses_are_refused_with_the_reason(address: str, kind: str) -> None:
    reason = PUBLIC_ONLY.refusal(ip(address))
    assert reason is not None
    assert reason.startswith(f"{address}")
    assert f" is {kind} address; list its network in {ALLOWED_NETWORKS_ENV} to allow it" in reason


def test_the_reason_names_the_address_and_its_kind() -> None:
    assert PUBLIC_ONLY.refusal(ip("10.0.0.5")) == (
        "10.0.0.5 is a private address; list its network in PITCALL_NOTIFY_WEBHOOK_ALLOWED_NETWORKS to allow it"
    )
    assert PUBLIC_ONLY.refusal(ip("::ffff:10.0.0.5")) == (
        "::ffff:10.0.0.5 (10.0.0.5) is a private address; "
        "list its network in PITCALL_NOTIFY_WEBHOOK_ALLOWED_NETWORKS to allow it"
    )


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2001:4860:4860::8888", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert PUBLIC_ONLY.refusal(ip(address)) is None


def test_listed_networks_are_allowed_and_nothing_else() -> None:
    policy = EgressPolicy.of(["10.20.0.0/16", " fd00:1::/64 ", "192.168.7.7"])
    assert [str(n) for n in policy.allowed] == ["10.20.0.0/16", "fd00:1::/64", "192.168.7.7/32"]
    for allowed in ("10.20.0.1", "10.20.255.254", "fd00:1::5", "192.168.7.7", "::ffff:10.20.1.1", "8.8.8.8"):
        assert policy.refusal(ip(allowed)) is None, allowed
    for refused in ("10.21.0.1", "fd00:2::5", "192.168.7.8", "127.0.0.1", "169.254.169.254"):
        assert policy.refusal(ip(refused)) is not None, refused


def test_allow_any_allows_everything() -> None:
    policy = EgressPolicy.of([], allow_any=True)
    for address in ("127.0.0.1", "10.0.0.5", "169.254.169.254", "::1", "8.8.8.8"):
        assert policy.refusal(ip(address)) is None


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "10.1.2.3/8", "localhost", "", "10.0.0.0/8/8"])
def test_a_bad_network_is_a_clear_error_naming_it(entry: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"{ALLOWED_NETWORKS_ENV}: '{entry}' is not a network")):
        EgressPolicy.of(["10.0.0.0/8", entry])


def test_ip_literals_are_not_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("resolved an IP literal")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    assert resolve("10.0.0.5", 80) == [ip("10.0.0.5")]
    assert resolve("::1", 443) == [ip("::1")]
    assert resolve("[::1]", 443) == [ip("::1")]


def test_names_resolve_to_every_address_once_and_failures_are_resolution_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = [
        (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2001:db8::1", 443, 0, 0)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443)),
    ]

    def fake(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        if host == "crm.example.com":
            return answers
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    assert resolve("crm.example.com", 443) == [ip("2001:db8::1"), ip("93.184.216.34")]
    with pytest.raises(ResolutionFailed, match=re.escape("cannot resolve nowhere.invalid")):
        resolve("nowhere.invalid", 443)


# --- the poster: refuses before sending, connects to the checked address -------------------------------------


class Recorder:
    """A transport that records requests and answers 204."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(204)


def _call(url: str) -> WebhookCall:
    return WebhookCall(url=url, subscription_id=1, delivery_id=7, event_type="alert.raised", body=b"{}", timestamp=1)


def _poster(
    recorder: Recorder, dns: dict[str, list[str]], policy: EgressPolicy = PUBLIC_ONLY
) -> tuple[HttpWebhookPoster, list[str]]:
    lookups: list[str] = []

    def resolver(host: str, port: int) -> list[IPAddress]:
        lookups.append(f"{host}:{port}")
        if host not in dns:
            return resolve(host, port)  # IP literals
        return [ip(a) for a in dns[host]]

    poster = HttpWebhookPoster("key", egress=policy, resolver=resolver, transport=httpx.MockTransport(recorder))
    return poster, lookups


def test_https_goes_to_the_checked_address_with_the_host_header_and_server_name() -> None:
    recorder = Recorder()
    poster, lookups = _poster(recorder, {"crm.example.com": ["93.184.216.34"]})
    assert poster.post(_call("https://crm.example.com:8443/hooks?x=1")) == 204
    (request,) = recorder.requests
    assert lookups == ["crm.example.com:8443"]
    assert str(request.url) == "https://93.184.216.34:8443/hooks?x=1"
    assert request.headers["Host"] == "crm.example.com:8443"
    assert request.extensions["sni_hostname"] == "crm.example.com"
    assert request.headers["X-Pitcall-Delivery"] == "7"


def test_http_to_ipv6_is_bracketed_and_has_no_server_name() -> None:
    recorder = Recorder()
    poster, lookups = _poster(recorder, {"crm.example.com": ["2001:4860:4860::8888"]})
    poster.post(_call("http://crm.example.com/hooks"))
    (request,) = recorder.requests
    assert lookups == ["crm.example.com:80"]
    assert str(request.url) == "http://[2001:4860:4860::8888]/hooks"
    assert request.headers["Host"] == "crm.example.com"
    assert "sni_hostname" not in request.extensions


@pytest.mark.parametrize(
    ("url", "dns", "reason"),
    [
        ("http://127.0.0.1:8080/hooks", {}, "127.0.0.1 is a loopback address"),
        ("http://[::ffff:127.0.0.1]/hooks", {}, "::ffff:127.0.0.1 (127.0.0.1) is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", {}, "169.254.169.254 is a link-local (cloud metadata) address"),
        ("https://intranet.example.com/hooks", {"intranet.example.com": ["10.0.0.5"]}, "10.0.0.5 is a private"),
        # one bad address among good ones is enough: the connection could go to any of them
        ("https://mixed.example.com/", {"mixed.example.com": ["93.184.216.34", "192.168.1.1"]}, "192.168.1.1 is"),
    ],
)
def test_a_refused_address_makes_the_delivery_undeliverable_before_anything_is_sent(
    url: str, dns: dict[str, list[str]], reason: str
) -> None:
    recorder = Recorder()
    poster, _ = _poster(recorder, dns)
    with pytest.raises(Undeliverable, match="refused by the egress guard") as refused:
        poster.post(_call(url))
    assert reason in str(refused.value)
    assert ALLOWED_NETWORKS_ENV in str(refused.value)
    assert recorder.requests == []


def test_listed_networks_and_development_reach_internal_receivers() -> None:
    recorder = Recorder()
    listed, _ = _poster(recorder, {"intranet.example.com": ["10.0.0.5"]}, EgressPolicy.of(["10.0.0.0/24"]))
    listed.post(_call("https://intranet.example.com/hooks"))
    anything, _ = _poster(recorder, {}, EgressPolicy.of([], allow_any=True))
    anything.post(_call("http://127.0.0.1:9/hooks"))
    assert [str(r.url) for r in recorder.requests] == ["https://10.0.0.5/hooks", "http://127.0.0.1:9/hooks"]


def test_the_host_is_resolved_on_every_post_and_never_by_the_connection() -> None:
    recorder = Recorder()
    dns = {"rebind.example.com": ["93.184.216.34"]}
    poster, lookups = _poster(recorder, dns)
    poster.post(_call("https://rebind.example.com/hooks"))
    dns["rebind.example.com"] = ["127.0.0.1"]  # the attacker's DNS now answers loopback
    with pytest.raises(Undeliverable, match=re.escape("127.0.0.1 is a loopback address")):
        poster.post(_call("https://rebind.example.com/hooks"))
    assert lookups == ["rebind.example.com:443", "rebind.example.com:443"]
    assert [r.url.host for r in recorder.requests] == ["93.184.216.34"]


def test_resolution_failures_and_connection_errors_are_retried_later() -> None:
    def unresolvable(host: str, port: int) -> list[IPAddress]:
        raise ResolutionFailed(f"cannot resolve {host}: temporary failure")

    poster = HttpWebhookPoster("key", egress=PUBLIC_ONLY, resolver=unresolvable)
    with pytest.raises(DeliveryFailed, match=re.escape("cannot resolve crm.example.com")):
        poster.post(_call("https://crm.example.com/hooks"))

    attempts: list[str] = []

    def refuse_first(request: httpx.Request) -> httpx.Response:
        attempts.append(request.url.host)
        if len(attempts) == 1:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(500, text="oops")

    dns = {"crm.example.com": ["2001:4860:4860::8888", "93.184.216.34"]}
    fallback = HttpWebhookPoster(
        "key",
        egress=PUBLIC_ONLY,
        resolver=lambda h, p: [ip(a) for a in dns[h]],
        transport=httpx.MockTransport(refuse_first),
    )
    with pytest.raises(DeliveryFailed, match="HTTP 500: oops") as failed:
        fallback.post(_call("https://crm.example.com/hooks"))
    assert failed.value.status == 500
    assert attempts == ["2001:4860:4860::8888", "93.184.216.34"]  # nothing sent to the first: the next is tried


def test_urls_that_can_never_work_are_undeliverable() -> None:
    poster, _ = _poster(Recorder(), {})
    for url in ("ftp://crm.example.com/x", "http:///hooks"):
        with pytest.raises(Undeliverable, match="invalid webhook URL"):
            poster.post(_call(url))


def test_build_adapters_passes_the_policy_to_the_poster() -> None:
    adapters = build_adapters(webhook_key="key", timeout_s=1.0, senders={}, egress=PUBLIC_ONLY)
    assert isinstance(adapters.webhook, HttpWebhookPoster)
    try:
        with pytest.raises(Undeliverable, match=re.escape("127.0.0.1 is a loopback address")):
            adapters.webhook.post(_call("http://127.0.0.1:9/hooks"))
    finally:
        adapters.webhook.close()


# --- settings ----------------------------------------------------------------------------------------------------


def test_settings_read_the_allowed_networks_as_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOWED_NETWORKS_ENV, " 10.20.0.0/16, fd00:1::/64,192.168.7.7 ,")
    settings = NotifierSettings(environment="production", webhook_key=PRODUCTION_KEY)
    assert settings.webhook_allowed_networks == ["10.20.0.0/16", "fd00:1::/64", "192.168.7.7/32"]
    assert settings.egress == EgressPolicy.of(["10.20.0.0/16", "fd00:1::/64", "192.168.7.7/32"])
    assert settings.egress.refusal(ip("10.20.3.4")) is None
    assert settings.egress.refusal(ip("10.21.3.4")) is not None


def test_settings_refuse_a_bad_network_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOWED_NETWORKS_ENV, "10.0.0.0/8,10.0.0.0/33")
    with pytest.raises(ValidationError, match=re.escape(f"{ALLOWED_NETWORKS_ENV}: '10.0.0.0/33' is not a network")):
        NotifierSettings()


def test_only_development_allows_any_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOWED_NETWORKS_ENV, raising=False)
    production = NotifierSettings(environment="production", webhook_key=PRODUCTION_KEY)
    assert production.egress == EgressPolicy(allowed=(), allow_any=False)
    assert production.egress.refusal(ip("169.254.169.254")) is not None
    assert NotifierSettings(environment="development").egress.allow_any
