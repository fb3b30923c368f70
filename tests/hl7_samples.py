"""HL7 v2 ADT messages in the shapes real feeds send: several versions, segment ends,
Z-segments, repeated identifiers and fields left out."""

from __future__ import annotations


def pv1(
    location: str, *, visit: str = "V1001", admitted: str = "", left: str = "", **more: str
) -> str:
    fields = [""] * 46
    fields[0], fields[1], fields[2], fields[3] = "PV1", "1", "I", location
    fields[19], fields[44], fields[45] = f"{visit}^^^WRH^VN", admitted, left
    for number, value in more.items():
        fields[int(number.removeprefix("f"))] = value
    return "|".join(fields)


def message(*segments: str, end: str = "\r") -> bytes:
    return (end.join(segments) + end).encode()


MSH_251 = (
    r"MSH|^~\&|PAS|WRH|FLOWCENTRE|COUNTY|20261102080000+0000||ADT^{trigger}^ADT_A01|{control}"
    "|P|2.5.1|||AL|NE|GBR|UNICODE UTF-8"
)
MSH_24 = r"MSH|^~\&|EPR|WRH|FLOWCENTRE|COUNTY|202611020800||ADT^{trigger}|{control}|P|2.4"
MSH_23 = r"MSH|^~\&|PAS|WRH|||20261102080000||ADT^{trigger}|{control}|P|2.3"

PID_NHS = r"PID|1||9434765919^^^NHS^NH~MRN0042^^^WRH^MR||LOVELACE^ADA^^^MS||19151210|F"
PID_LOCAL = "PID|1||MRN0099^^^WRH^MR||BABBAGE^CHARLES||17911226|M"


def a01(control: str = "MSG0001", *, end: str = "\r", bed: str = "B01-1") -> bytes:
    return message(
        MSH_251.format(trigger="A01", control=control),
        "EVN|A01|20261102080000+0000|||rn042^JONES^SAM",
        PID_NHS,
        "PD1||||||||||||N",
        pv1(f"AMU^Bay 1^{bed}^WRH", admitted="20261102075500+0000", f10="MED"),
        "PV2|||||||||20261105",
        "ZPV|local^value~second",
        end=end,
    )


def a02_v24_lf(control: str = "MSG0002") -> bytes:
    return message(
        MSH_24.format(trigger="A02", control=control),
        "EVN|A02|202611021000",
        PID_NHS,
        pv1("CCU^^SR02^WRH", f6="AMU^Bay 1^B01-1^WRH"),
        end="\n",
    )


def a03_v23_crlf(control: str = "MSG0003", destination: str = "54") -> bytes:
    return message(
        MSH_23.format(trigger="A03", control=control),
        "EVN|A03|20261103140000",
        PID_LOCAL,
        pv1("CCU^^SR02^WRH", left="20261103133000", f37=destination),
        "ZXY|1",
        end="\r\n",
    )


def a20(code: str = "H", control: str = "MSG0020") -> bytes:
    return message(
        MSH_24.format(trigger="A20", control=control),
        "EVN|A20|202611031400",
        f"NPU|CCU^^SR02^WRH|{code}",
    )


def a14(control: str = "MSG0014", *, pending: str = "AMU^^^WRH") -> bytes:
    """A decision to admit in the emergency department: the patient still of its class
    (E) and in its majors area (PV1-3), waiting for a bed on a ward (PV1-42), expected to
    be admitted at noon (PV2-8)."""
    return message(
        MSH_251.format(trigger="A14", control=control),
        "EVN|A14|20261102080500+0000||||20261102080000+0000",
        PID_NHS,
        pv1("ED^MAJ^C4^WRH", visit="V2001", f2="E", f10="MED", f42=pending),
        "PV2||||||||20261102120000+0000",
    )


def a27(control: str = "MSG0027") -> bytes:
    """The decision to admit of ``a14`` cancelled."""
    return message(
        MSH_251.format(trigger="A27", control=control),
        "EVN|A27|20261102090000+0000",
        PID_NHS,
        pv1("ED^MAJ^C4^WRH", visit="V2001", f2="E"),
    )
