# The player admin (the player 360) reads casino, wallet and payments, so it lives in
# crm, the app allowed to read all three; importing it here registers it.
from crm import admin_players  # noqa: F401
