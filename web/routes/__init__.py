"""One router per resource: ask, documents, admin (reload, health), feedback, and the HTML pages."""
