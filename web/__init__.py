"""The web layer: the JSON API and the server-rendered pages over `qa` (FastAPI).

`web.app.create_app` assembles the application; `web.deps` holds what a request needs (the
loaded services, the dependencies, the templates), `web.errors` the one mapping from domain
errors to HTTP statuses, `web.schemas` the request and response models and `web.routes`
one router per resource. Templates and static files ship inside this package.
"""
