from casino.checks import operator_2fa_required_in_production


def test_deploy_check_warns_when_production_runs_without_mandatory_2fa(settings):
    settings.DEBUG = False
    settings.OPERATOR_2FA_REQUIRED = False

    warnings = operator_2fa_required_in_production(None)

    assert [w.id for w in warnings] == ["casino.W010"]


def test_deploy_check_is_quiet_when_2fa_is_required(settings):
    settings.DEBUG = False
    settings.OPERATOR_2FA_REQUIRED = True

    assert operator_2fa_required_in_production(None) == []
