"""Telecom X constants, from NOTES.md section 4 and telecomx-cdrstats-api.txt."""

PROVIDER = "telecomx"
BASE_URL = "https://api.telecomx.dk"
LOGIN_PATH = "/auth/login"
STATS_PATH = "/pbx/cdrstats"

GROUPINGS = ("HOUR", "DAY", "WEEK", "MONTH")
# Nightly loads pull one UTC day grouped by hour: each hour-of-day key then occurs once.
DEFAULT_GROUPING = "HOUR"
# How WEEK keys count [Q]: ISO 8601 weeks (Monday start, 1-53, what Denmark uses) or
# "sunday" (weeks start on Sunday, days before the year's first Sunday are week 0; strftime %U).
WEEK_SCHEMES = ("iso", "sunday")
FORMATS = ("JSON", "CSV", "EXCEL")

IDENTITY_FIELDS = ("employeeId", "employeeName", "extensionId", "extensionNumber")
COUNTER_FIELDS = ("outboundCalls", "outboundSeconds", "outboundAnswered", "outboundUnanswered",
                  "outboundFailed", "inboundCalls", "inboundSeconds", "inboundAnswered",
                  "inboundUnanswered", "inboundBusy")
# Requested explicitly on every call, so a changed server default cannot drop a counter.
REQUEST_FIELDS = IDENTITY_FIELDS + COUNTER_FIELDS

# Documented error tokens (NOTES.md section 4 and the cdrstats page).
EXPIRED = "expired"
CREDENTIALS_INVALID = "credentials_invalid"
INVALID_TOKEN = "invalid_token"
BLACKLISTED = "blacklisted"
ACCESS_DENIED = "access_denied"
REQUEST_FIELD_ERRORS = ("from", "format", "groupingInterval")
ERROR_CODES = (EXPIRED, CREDENTIALS_INVALID, INVALID_TOKEN, BLACKLISTED, ACCESS_DENIED,
               *REQUEST_FIELD_ERRORS, "bad request", "internal_error", "id")
