"""What an operator imposes on its runners beyond their spec: the contract both sides import.

The operator checks every LoadTest against the same rules before any Job exists, and writes
them as JSON into each runner container's ``HERD_RUNNER_POLICY``; ``herd run`` reads that
variable and holds every connection to them (a name can resolve to a denied address, and
``${VAR}`` can hide a host from the operator). Without the variable there is no policy: a
laptop's ``herd run`` is unaffected.

Host rules are CIDRs (``169.254.0.0/16``; a bare address is its own /32 or /128) or DNS
names (``metadata.google.internal``), a name covering itself and every name below it.
Denied wins over allowed; an empty allow list allows every host that is not denied.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, ValidationError

from herd.api.errors import describe_validation_error
from herd.api.model import ApiModel

RUNNER_POLICY_ENV = "HERD_RUNNER_POLICY"
"""The runner container's variable holding the policy (JSON); set by the operator only."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")


def _host_rule(text: str) -> str:
    rule = text.strip().lower().rstrip(".")
    try:
        return str(ipaddress.ip_network(rule, strict=False))
    except ValueError:
        pass
    if rule.startswith("*."):  # the usual wildcard spelling means what a name already covers
        rule = rule[2:]
    if not _NAME.match(rule):
        raise ValueError(f"{text!r} is neither a CIDR (10.0.0.0/8) nor a DNS name (example.com)")
    return rule


HostRule = Annotated[str, AfterValidator(_host_rule)]


def normal_name(host: str) -> str:
    return host.strip().lower().rstrip(".")


def as_address(host: str) -> Address | None:
    """``host`` as an IP address (IPv4-mapped IPv6 as its IPv4 address), or None for a name."""
    try:
        address = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def url_host(url: str) -> str | None:
    """The host of ``url``; None when ``${VAR}`` hides it or it has none."""
    parts = urlsplit(url)
    if "${" in parts.netloc:
        return None
    return parts.hostname or None


@dataclass(frozen=True)
class Refusal:
    """Why a host or an address is refused, and by which list."""

    listed: Literal["deny", "allow"]
    reason: str


class TargetPolicy(ApiModel):
    """Hosts runners may connect to: the target, the scaling probe and the uploads endpoint."""

    allow: list[HostRule] = Field(default_factory=list)
    """CIDRs and DNS names runners may connect to; empty: every host that is not denied."""
    deny: list[HostRule] = Field(default_factory=list)
    """CIDRs and DNS names runners never connect to, whatever ``allow`` says."""

    @property
    def has_rules(self) -> bool:
        return bool(self.allow or self.deny)

    def _networks(self, rules: list[str]) -> list[Network]:
        return [network for rule in rules if (network := _network(rule)) is not None]

    def _names(self, rules: list[str]) -> list[str]:
        return [rule for rule in rules if _network(rule) is None]

    def _denying_network(self, address: Address) -> Network | None:
        return next((net for net in self._networks(self.deny) if _within(address, net)), None)

    def _in_allowed_network(self, address: Address) -> bool:
        return any(_within(address, network) for network in self._networks(self.allow))

    def allows_name(self, name: str) -> bool:
        """``name`` is under an allowed name (so its addresses need not be allowed ones)."""
        name = normal_name(name)
        return any(_covers(rule, name) for rule in self._names(self.allow))

    def refuse_name(self, name: str) -> Refusal | None:
        """The refusal of a DNS name by what the name alone tells (not its addresses)."""
        name = normal_name(name)
        for rule in self._names(self.deny):
            if _covers(rule, name):
                under = "" if name == rule else f" is under {rule}, which"
                return Refusal("deny", f"{name}{under} is denied")
        if self.allow and not self.allows_name(name) and not self._networks(self.allow):
            return Refusal("allow", f"{name} matches no allowed name")
        return None

    def refuse_address(self, address: Address, name: str | None = None) -> Refusal | None:
        """The refusal of connecting to ``address`` (resolved from ``name``, if given)."""
        network = self._denying_network(address)
        if network is not None:
            return Refusal("deny", f"{address} is in {network}, which is denied")
        allowed_by_name = name is not None and self.allows_name(name)
        if self.allow and not allowed_by_name and not self._in_allowed_network(address):
            return Refusal("allow", f"{address} is in no allowed network")
        return None

    def refuse_host(self, host: str) -> Refusal | None:
        """What can be told of a URL's host without resolving it."""
        address = as_address(host)
        return self.refuse_address(address) if address is not None else self.refuse_name(host)


def _network(rule: str) -> Network | None:
    try:
        return ipaddress.ip_network(rule, strict=False)
    except ValueError:
        return None


def _within(address: Address, network: Network) -> bool:
    return address.version == network.version and address in network


def _covers(rule: str, name: str) -> bool:
    return name == rule or name.endswith("." + rule)


class RunnerPolicy(ApiModel):
    """Everything the operator imposes on one run's runners (``HERD_RUNNER_POLICY``)."""

    targets: TargetPolicy = Field(default_factory=TargetPolicy)
    """Hosts the runners may connect to."""
    max_requests: int | None = Field(default=None, ge=1)
    """Requests the run may send, all runners together, where its spec plans no count (a
    ``concurrency`` loop bounded only by ``duration``): no runner issues a request past it,
    and a run that reaches it reports ``stopped: max_requests``."""

    @property
    def is_empty(self) -> bool:
        return not self.targets.has_rules and self.max_requests is None

    def encode(self) -> str:
        return json.dumps(
            self.model_dump(mode="json", by_alias=True, exclude_defaults=True),
            separators=(",", ":"),
        )


def runner_policy_from_env(env: Mapping[str, str]) -> RunnerPolicy | None:
    """The policy in ``env``; None without one. Raises ValueError naming the variable."""
    text = env.get(RUNNER_POLICY_ENV, "").strip()
    if not text:
        return None
    try:
        return RunnerPolicy.model_validate_json(text)
    except ValidationError as error:
        problems = "; ".join(describe_validation_error(error))
        raise ValueError(f"{RUNNER_POLICY_ENV} is not a valid runner policy: {problems}") from None
