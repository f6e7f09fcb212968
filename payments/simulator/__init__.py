"""The payments simulator (local demos and end-to-end tests only).

Routed only when ``settings.PAYMENTS_SIMULATOR_ENABLED`` is true when the URLconf
loads, and refused by a system check when DEBUG is False. It builds real
Stripe-format events, signs them with the brand's webhook secret exactly as Stripe
does, and delivers them to the real webhook view (verification included)."""
