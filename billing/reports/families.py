"""Product families: how finance groups revenue (the admin home's charts, the journal's revenue
accounts). One table, read from the billable item's code and the invoice line's kind."""

from billing.models import InvoiceLine

IM_EDITIONS = "im_editions"
IM_OVERAGE = "im_overage"
IM_ADDONS = "im_addons"
MODERATION = "moderation"
TRTC_AV = "trtc_av"
CONVERSATIONAL_AI = "conversational_ai"
SPEECH_TO_TEXT = "speech_to_text"
ADJUSTMENTS = "adjustments"

# In the order the home page and the journal list them.
FAMILIES: dict[str, str] = {
    IM_EDITIONS: "IM editions",
    IM_OVERAGE: "IM overage",
    IM_ADDONS: "IM add-ons",
    MODERATION: "Moderation",
    TRTC_AV: "TRTC audio/video",
    CONVERSATIONAL_AI: "Conversational AI",
    SPEECH_TO_TEXT: "Speech-to-text",
    ADJUSTMENTS: "Adjustments and credits",
}

# Item code prefixes, longest first wins: local moderation is an IM add-on by catalog, but
# finance counts it with moderation (it is what the customer buys moderation with).
_PREFIXES: list[tuple[str, str]] = sorted(
    [
        ("im.edition.", IM_EDITIONS),
        ("im.overage.", IM_OVERAGE),
        ("im.addon.local_moderation", MODERATION),
        ("im.addon.", IM_ADDONS),
        ("im.moderation", MODERATION),  # cloud moderation units and moderation packs
        ("trtc.audio", TRTC_AV),
        ("trtc.video.", TRTC_AV),
        ("trtc.ai", CONVERSATIONAL_AI),
        ("trtc.stt", SPEECH_TO_TEXT),
    ],
    key=lambda pair: -len(pair[0]),
)


def family_of_item(item_code: str | None) -> str:
    """The family of a billable item; lines without an item (staff adjustments, late-usage
    restatements) are adjustments and credits."""
    if not item_code:
        return ADJUSTMENTS
    for prefix, family in _PREFIXES:
        if item_code.startswith(prefix):
            return family
    return ADJUSTMENTS


def family_of_line(kind: str, item_code: str | None) -> str:
    """The family of an invoice line. A proration credit belongs to the family of the term it
    credits (it reduces what that edition or add-on earned); an adjustment to adjustments."""
    if kind == InvoiceLine.Kind.ADJUSTMENT:
        return ADJUSTMENTS
    return family_of_item(item_code)


def family_label(family: str) -> str:
    return FAMILIES[family]
