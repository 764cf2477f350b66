"""The scoring service (``custseg serve``): the published model behind an HTTP API.

``config`` (the typed settings), ``schemas`` (requests and answers, with the OpenAPI
examples), ``limits`` (the request body limit), ``security`` (the bearer token), ``scoring``
(features and segments of a request), ``lookup`` (a customer's latest segment) and ``app``
(:func:`~custseg.serve.app.create_app`, which wires them). FastAPI and uvicorn come with the
``custseg[serve]`` extra; nothing here is imported by the rest of custseg.
"""
