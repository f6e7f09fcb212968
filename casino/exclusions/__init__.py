"""Time-outs and self-exclusions (issue 13; rules and sources in docs/compliance.md).

``services`` sets them (only the player, never an operator, and never shorter);
``selectors`` answers "is this player excluded now?" for every door that must ask:
deposits, the play gate and log-in, and marketing (``player_marketing_blocked``,
``player_marketable_filter`` for CRM campaigns).
"""
