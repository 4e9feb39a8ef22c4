"""Pure rating rules (SPEC 3 and 4; STYLE "Rating rules are pure functions").

Each rule takes aggregated quantities, the price-book entries in force (as ``Price``) and
the allowance and pack balances, and returns charge values with an explanation a customer
can follow. Nothing here touches the ORM, the clock or the settings: the daily job, the
month-to-date preview and a re-rate preview all call the same functions.

Modules: ``types`` (shared values), ``packs`` (earliest-expiring-first consumption),
``terms`` (prepaid terms and proration), ``moderation`` (IM content moderation),
``trtc`` (TRTC minutes, Conversational AI, speech-to-text), ``im_overage`` (monthly DAU
and group overage), ``message_history`` (postpaid add-on accrual), ``text`` (how numbers
read in explanations).
"""
