import pytest

from gis.gb28181 import DeviceId, DeviceIdError, make_device_id, parse_device_id


def test_make_device_id_hand_written() -> None:
    assert make_device_id("34020000", "00", "132", 0, 1) == "34020000001320000001"
    assert make_device_id("42010601", "00", "131", 8, 999_999) == "42010601001318999999"


def test_parse_device_id_parts() -> None:
    parsed = parse_device_id("42010601001328000123")
    assert parsed == DeviceId(
        centre_code="42010601", admin_division="420106", industry="00", type_code="132",
        type_name="IP camera", network=8, serial=123,
    )
    assert str(parsed) == "42010601001328000123"


def test_parse_known_platform_code() -> None:
    assert parse_device_id("34020000002000000001").type_name == "central signalling server"


@pytest.mark.parametrize(
    ("device_id", "reason"),
    [
        ("3402000000132000001", "19 characters"),
        ("340200000013200000012", "21 characters"),
        ("34020000001320000O01", "non-digit 'O' at position 18"),
        ("34020000001990000001", "unknown type code '199'"),
        ("３4020000001320000001", "non-digit"),
    ],
)
def test_parse_rejects_with_reason(device_id: str, reason: str) -> None:
    with pytest.raises(DeviceIdError, match=reason):
        parse_device_id(device_id)


def test_unknown_type_allowed_when_not_strict() -> None:
    parsed = parse_device_id("34020000001990000001", strict=False)
    assert parsed.type_code == "199"
    assert parsed.type_name is None


def test_error_is_value_error() -> None:
    assert issubclass(DeviceIdError, ValueError)


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("3402000", "00", "132", 0, 1), "centre code must be 8"),
        (("3402000a", "00", "132", 0, 1), "centre code must be 8"),
        (("34020000", "0", "132", 0, 1), "industry code must be 2"),
        (("34020000", "00", "13", 0, 1), "type code must be 3"),
        (("34020000", "00", "133", 0, 1), "unknown type code '133'"),
        (("34020000", "00", "132", 10, 1), "network id must be an integer 0..9"),
        (("34020000", "00", "132", True, 1), "network id"),
        (("34020000", "00", "132", 0, 1_000_000), "serial must be an integer 0..999999"),
        (("34020000", "00", "132", 0, -1), "serial"),
    ],
)
def test_make_rejects_bad_parts(args: tuple[str, str, str, int, int], reason: str) -> None:
    with pytest.raises(DeviceIdError, match=reason):
        make_device_id(*args)
