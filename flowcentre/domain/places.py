"""The kinds of places the registry names: organisations, sites, and wards' designations."""

from __future__ import annotations

from enum import StrEnum


class OrganisationKind(StrEnum):
    ACUTE_TRUST = "acute_trust"
    COMMUNITY_TRUST = "community_trust"
    LOCAL_AUTHORITY = "local_authority"
    OTHER = "other"


class SiteKind(StrEnum):
    ACUTE_HOSPITAL = "acute_hospital"
    COMMUNITY_HOSPITAL = "community_hospital"
    OTHER = "other"


class WardSex(StrEnum):
    """The ward's single-sex accommodation designation."""

    FEMALE = "female"
    MALE = "male"
    MIXED = "mixed"
