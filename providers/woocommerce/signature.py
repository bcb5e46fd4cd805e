"""The ``X-WC-Webhook-Signature`` scheme, byte for byte as WooCommerce computes it.

``WC_Webhook::generate_signature()``::

    base64_encode( hash_hmac( 'sha256', $body, wp_specialchars_decode( $secret, ENT_QUOTES ), true ) )

So the signature is over the raw body bytes (never re-serialize: PHP escapes ``/``
and non-ASCII), base64 with padding (not hex), and the key is the secret after
WordPress's *partial* entity decoding: only ``&amp; &lt; &gt; &quot; &#039;`` and
their numeric forms, not every HTML entity (``&eacute;`` stays as written), which
is why ``html.unescape`` would be wrong here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

# wp_specialchars_decode( $text, ENT_QUOTES ), wp-includes/formatting.php.
# Step 1 (preg_replace): strip zero padding from numeric entities.
_ZERO_PADDING = (
    (re.compile(r"&#0*39;"), "&#039;"),
    (re.compile(r"&#x0*27;", re.IGNORECASE), "&#x27;"),
    (re.compile(r"&#0*34;"), "&#034;"),
    (re.compile(r"&#x0*22;", re.IGNORECASE), "&#x22;"),
    (re.compile(r"&#0*60;"), "&#060;"),
    (re.compile(r"&#0*62;"), "&#062;"),
    (re.compile(r"&#0*38;"), "&#038;"),
    (re.compile(r"&#x0*26;", re.IGNORECASE), "&#x26;"),
)
# Step 2 (strtr): one pass, longest key first, replaced text is not scanned again
# (so "&amp;lt;" becomes "&lt;", not "<").
_TRANSLATION = {
    "&#039;": "'",
    "&#x27;": "'",
    "&quot;": '"',
    "&#034;": '"',
    "&#x22;": '"',
    "&lt;": "<",
    "&#060;": "<",
    "&gt;": ">",
    "&#062;": ">",
    "&amp;": "&",
    "&#038;": "&",
    "&#x26;": "&",
}
_TRANSLATION_RE = re.compile(
    "|".join(re.escape(key) for key in sorted(_TRANSLATION, key=len, reverse=True))
)

HEADER = "x-wc-webhook-signature"


def wp_specialchars_decode(text: str) -> str:
    """WordPress's ``wp_specialchars_decode($text, ENT_QUOTES)``."""
    if "&" not in text:
        return text
    for pattern, replacement in _ZERO_PADDING:
        text = pattern.sub(replacement, text)
    return _TRANSLATION_RE.sub(lambda match: _TRANSLATION[match.group(0)], text)


def sign(body: bytes, secret: str) -> str:
    """The header value WooCommerce sends for ``body`` under ``secret``."""
    key = wp_specialchars_decode(secret).encode("utf-8")
    digest = hmac.new(key, body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(body: bytes, header_value: str | None, secret: str) -> bool:
    """Constant-time check of ``header_value`` against the signature of the raw ``body``."""
    if not header_value or not secret:
        return False
    expected = sign(body, secret).encode("ascii")
    # encode("utf-8"): a garbage header must give False, not an exception.
    return hmac.compare_digest(expected, header_value.strip().encode("utf-8"))
