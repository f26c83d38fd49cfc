"""Log filters for the console handler."""

import logging


class ClientErrorsWithoutTraceback(logging.Filter):
    """A refused request (403, 404: someone without the role, a stale link) is logged as one
    line. Django attaches the exception to it, which printed a traceback for every refusal and
    buried real errors; server errors (5xx) keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if status is not None and status < 500:
            record.exc_info, record.exc_text = None, None
        return True
