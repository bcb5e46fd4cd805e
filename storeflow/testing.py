"""The provider conformance kit, for a provider's own test module (needs pytest, hypothesis).

::

    from storeflow.testing import ProviderConformance, Recording

    class TestMyShop(ProviderConformance):
        entry_point = "myshop"
        ...

Only tests import this module; ``import storeflow`` never does. See docs/providers.md.
"""

from storeflow.core.testing.provider_kit import (
    BEYOND_2_53,
    CURRENCIES,
    DiscoveryChecks,
    FlowChecks,
    MappingChecks,
    ProviderConformance,
    ProviderKit,
    Recording,
    SettingsCase,
    SettingsChecks,
    SignatureChecks,
    Unsupported,
    unsupported,
)

__all__ = [
    "BEYOND_2_53",
    "CURRENCIES",
    "DiscoveryChecks",
    "FlowChecks",
    "MappingChecks",
    "ProviderConformance",
    "ProviderKit",
    "Recording",
    "SettingsCase",
    "SettingsChecks",
    "SignatureChecks",
    "Unsupported",
    "unsupported",
]
