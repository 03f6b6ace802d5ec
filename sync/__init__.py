"""Device sync: POST /sync/push, GET /sync/pull, the OpenAPI document and a reference client.

The edge parses and checks the envelope, then hands each kind of mutation, as a batch, to the
same service functions the HTMX pages use (auditapp/services). See PROTOCOL.md.
"""
