"""Build and parse 20-digit GB/T 28181 device ids.

Layout: centre code (8 digits; the first 6 are a GB/T 2260 administrative-division code) +
industry (2) + type (3) + network (1) + serial (6).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEVICE_TYPES", "NETWORKS", "DeviceId", "DeviceIdError", "make_device_id",
           "parse_device_id"]

DEVICE_TYPES: dict[str, str] = {
    "111": "DVR",
    "112": "video server",
    "113": "encoder",
    "114": "decoder",
    "117": "alarm controller",
    "118": "NVR",
    "131": "camera",
    "132": "IP camera",
    "134": "alarm input",
    "135": "alarm output",
    "200": "central signalling server",
    "215": "business group",
    "216": "virtual organisation",
}

NETWORKS: dict[int, str] = {
    **{n: "monitoring private network" for n in range(5)},
    5: "public-security information network",
    6: "government network",
    7: "internet",
    8: "social-resource network",
}

_MAX_SERIAL = 999_999


class DeviceIdError(ValueError):
    """A GB/T 28181 device id (or one of its parts) is malformed."""


@dataclass(frozen=True)
class DeviceId:
    """The parts of a 20-digit GB/T 28181 device id."""

    centre_code: str
    admin_division: str
    industry: str
    type_code: str
    type_name: str | None
    network: int
    serial: int

    def __str__(self) -> str:
        return (f"{self.centre_code}{self.industry}{self.type_code}{self.network}"
                f"{self.serial:06d}")


def _digits(value: str, n: int, what: str) -> None:
    if not isinstance(value, str) or len(value) != n or not (value.isascii() and value.isdigit()):
        raise DeviceIdError(f"{what} must be {n} ASCII digits, got {value!r}")


def _known_type(type_code: str, context: str) -> str:
    name = DEVICE_TYPES.get(type_code)
    if name is None:
        known = ", ".join(f"{k} {v}" for k, v in DEVICE_TYPES.items())
        raise DeviceIdError(f"{context}: unknown type code {type_code!r}; known codes: {known}")
    return name


def make_device_id(centre_code: str, industry: str, type_code: str, network: int,
                   serial: int) -> str:
    """Build a GB/T 28181 device id.

    Parameters
    ----------
    centre_code
        8 digits: 6-digit administrative-division code + 2-digit grassroots unit.
    industry
        2 digits (e.g. "00" public security).
    type_code
        3 digits, one of :data:`DEVICE_TYPES`.
    network
        0..9 (0-4 monitoring private network, 5 public-security network, 8 social resources).
    serial
        0..999999.

    Returns
    -------
    str
        The 20-digit id.

    Raises
    ------
    DeviceIdError
        When a part has the wrong length, is not digits, is out of range, or the type code is
        not one of the known codes.
    """
    _digits(centre_code, 8, "centre code")
    _digits(industry, 2, "industry code")
    _digits(type_code, 3, "type code")
    _known_type(type_code, "make_device_id")
    if isinstance(network, bool) or not isinstance(network, int) or not 0 <= network <= 9:
        raise DeviceIdError(f"network id must be an integer 0..9, got {network!r}")
    if isinstance(serial, bool) or not isinstance(serial, int) or not 0 <= serial <= _MAX_SERIAL:
        raise DeviceIdError(f"serial must be an integer 0..{_MAX_SERIAL}, got {serial!r}")
    return f"{centre_code}{industry}{type_code}{network}{serial:06d}"


def parse_device_id(device_id: str, *, strict: bool = True) -> DeviceId:
    """Split a GB/T 28181 device id into its parts.

    Parameters
    ----------
    device_id
        20-digit id.
    strict
        True (default): an unknown type code is an error. False: accept it with
        ``type_name=None`` (for ids from other platforms using newer codes).

    Returns
    -------
    DeviceId

    Raises
    ------
    DeviceIdError
        When the id is not 20 characters, contains a non-digit (the position is named), or has
        a type code outside :data:`DEVICE_TYPES` (with ``strict``).
    """
    if not isinstance(device_id, str):
        raise DeviceIdError(f"device id must be a string, got {type(device_id).__name__}")
    if len(device_id) != 20:
        raise DeviceIdError(
            f"device id {device_id!r} has {len(device_id)} characters; GB/T 28181 ids have 20"
        )
    for pos, ch in enumerate(device_id, start=1):
        if not ("0" <= ch <= "9"):
            raise DeviceIdError(
                f"device id {device_id!r} has a non-digit {ch!r} at position {pos}"
            )
    type_code = device_id[10:13]
    type_name = (_known_type(type_code, f"device id {device_id!r}") if strict
                 else DEVICE_TYPES.get(type_code))
    return DeviceId(
        centre_code=device_id[:8],
        admin_division=device_id[:6],
        industry=device_id[8:10],
        type_code=type_code,
        type_name=type_name,
        network=int(device_id[13]),
        serial=int(device_id[14:]),
    )
