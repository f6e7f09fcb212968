from common.errors import ApplicationError


class SegmentRulesInvalid(ApplicationError):
    code = "SEGMENT_RULES_INVALID"
    http_status = 400
    default_message = "The segment rules are not valid."


class CampaignTemplateInvalid(ApplicationError):
    code = "CAMPAIGN_TEMPLATE_INVALID"
    http_status = 400
    default_message = "The campaign's subject or body template does not render."


class TagAlreadyExists(ApplicationError):
    code = "TAG_ALREADY_EXISTS"
    http_status = 409
    default_message = "This brand already has a tag with that name."


class SegmentNameTaken(ApplicationError):
    code = "SEGMENT_NAME_TAKEN"
    http_status = 409
    default_message = "This brand already has a segment with that name."
