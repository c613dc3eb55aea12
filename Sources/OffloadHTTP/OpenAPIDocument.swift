/// The OpenAPI 3.1 description of the whole API, served at `GET /openapi.yaml`. It lives in
/// the source so that the binary needs no file beside it; tests check it against the routes.
enum OpenAPIDocument {
    static let yaml = #"""
openapi: 3.1.0
info:
  title: offload-http
  version: \#(ServiceVersion.current)
  description: |
    Crypto offload as REST. Each POST /encrypt or /decrypt runs as an OpenSSL ASYNC job whose
    cipher comes from an OpenSSL provider (by default offloadsim, a simulated hardware
    accelerator); the answer is the job with its output in hex.

    HTTP: every path also answers OPTIONS (204 with Allow), and HEAD wherever it answers GET
    (the same headers, no body). Every answer carries `Cache-Control: no-store` except this
    document and the live page's files, which are `no-cache` with an ETag and answer 304 to a
    matching If-None-Match.
servers:
  - url: http://localhost:8080
security:
  - {}
  - bearer: []
paths:
  /encrypt:
    post:
      operationId: encrypt
      summary: Run an input through the accelerator.
      description: |
        A raw body (any content type but application/json) is the input, with optional
        `algorithm` and `key` query parameters. A JSON body is one input object, or
        `{"batch": [...]}` with up to 1000 input objects run concurrently.
        `Prefer: respond-async` answers 202 with the job once its record is in the job store
        (503 store_unavailable when the store cannot take it). A synchronous job's record stays
        in the memory of the replica that ran it.
      parameters:
        - $ref: '#/components/parameters/Algorithm'
        - $ref: '#/components/parameters/Key'
        - $ref: '#/components/parameters/Prefer'
        - $ref: '#/components/parameters/Accept'
      requestBody:
        $ref: '#/components/requestBodies/JobInput'
      responses:
        '401': {$ref: '#/components/responses/Unauthorized'}
        '200': {$ref: '#/components/responses/JobOrBatch'}
        '202': {$ref: '#/components/responses/Accepted'}
        '400': {$ref: '#/components/responses/BadRequest'}
        '405': {$ref: '#/components/responses/MethodNotAllowed'}
        '413': {$ref: '#/components/responses/Error'}
        '415': {$ref: '#/components/responses/Error'}
        '500': {$ref: '#/components/responses/FailedJob'}
        '502': {$ref: '#/components/responses/FailedJob'}
        '503': {$ref: '#/components/responses/Unavailable'}
        '504': {$ref: '#/components/responses/FailedJob'}
  /decrypt:
    post:
      operationId: decrypt
      summary: Reverse what /encrypt produced.
      description: |
        Same shapes as /encrypt. For AEAD algorithms the input is `nonce || ciphertext || tag`;
        a wrong key, tampered data or wrong AAD fails with 400 `authentication_failed` and no output.
      parameters:
        - $ref: '#/components/parameters/Algorithm'
        - $ref: '#/components/parameters/Key'
        - $ref: '#/components/parameters/Prefer'
        - $ref: '#/components/parameters/Accept'
      requestBody:
        $ref: '#/components/requestBodies/JobInput'
      responses:
        '401': {$ref: '#/components/responses/Unauthorized'}
        '200': {$ref: '#/components/responses/JobOrBatch'}
        '202': {$ref: '#/components/responses/Accepted'}
        '400': {$ref: '#/components/responses/BadRequest'}
        '405': {$ref: '#/components/responses/MethodNotAllowed'}
        '413': {$ref: '#/components/responses/Error'}
        '415': {$ref: '#/components/responses/Error'}
        '500': {$ref: '#/components/responses/FailedJob'}
        '502': {$ref: '#/components/responses/FailedJob'}
        '503': {$ref: '#/components/responses/Unavailable'}
        '504': {$ref: '#/components/responses/FailedJob'}
  /rewrap:
    post:
      operationId: rewrap
      summary: Seal a ciphertext under its key's latest version, in one job; the plaintext never leaves it.
      parameters:
        - $ref: '#/components/parameters/Prefer'
      requestBody:
        required: true
        content:
          application/json:
            schema:
              oneOf:
                - $ref: '#/components/schemas/CiphertextObject'
                - type: object
                  additionalProperties: false
                  required: [batch]
                  properties:
                    batch:
                      type: array
                      minItems: 1
                      maxItems: 1000
                      items: {$ref: '#/components/schemas/CiphertextObject'}
      responses:
        '401': {$ref: '#/components/responses/Unauthorized'}
        '200': {$ref: '#/components/responses/JobOrBatch'}
        '202': {$ref: '#/components/responses/Accepted'}
        '400': {$ref: '#/components/responses/BadRequest'}
        '405': {$ref: '#/components/responses/MethodNotAllowed'}
        '413': {$ref: '#/components/responses/Error'}
        '415': {$ref: '#/components/responses/Error'}
        '500': {$ref: '#/components/responses/FailedJob'}
        '502': {$ref: '#/components/responses/FailedJob'}
        '503': {$ref: '#/components/responses/Unavailable'}
        '504': {$ref: '#/components/responses/FailedJob'}
  /datakey:
    post:
      operationId: dataKey
      summary: A fresh data key sealed under a key (envelope encryption), with its plaintext in this answer only.
      description: >-
        The ciphertext opens with POST /decrypt. plaintext true (the default) answers the data
        key's plaintext once, in plaintext_base64; it is never kept, so an async request must
        ask with plaintext false.
      parameters:
        - $ref: '#/components/parameters/Prefer'
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              additionalProperties: false
              properties:
                key: {type: string, description: The key to seal under; the default key when left out.}
                bits: {type: integer, enum: [128, 256, 512], default: 256}
                plaintext: {type: boolean, default: true}
      responses:
        '401': {$ref: '#/components/responses/Unauthorized'}
        '200':
          description: The job, with ciphertext (and plaintext_base64 when asked for).
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Job'}
        '202': {$ref: '#/components/responses/Accepted'}
        '400': {$ref: '#/components/responses/BadRequest'}
        '405': {$ref: '#/components/responses/MethodNotAllowed'}
        '413': {$ref: '#/components/responses/Error'}
        '415': {$ref: '#/components/responses/Error'}
        '500': {$ref: '#/components/responses/FailedJob'}
        '502': {$ref: '#/components/responses/FailedJob'}
        '503': {$ref: '#/components/responses/Unavailable'}
        '504': {$ref: '#/components/responses/FailedJob'}
  /hmac:
    post:
      operationId: hmac
      summary: An HMAC-SHA-256 of the input under an hmac-sha256 key's latest version.
      parameters:
        - $ref: '#/components/parameters/Prefer'
      requestBody:
        required: true
        content:
          application/json:
            schema:
              oneOf:
                - $ref: '#/components/schemas/MACInput'
                - type: object
                  additionalProperties: false
                  required: [batch]
                  properties:
                    batch:
                      type: array
                      minItems: 1
                      maxItems: 1000
                      items: {$ref: '#/components/schemas/MACInput'}
      responses:
        '401': {$ref: '#/components/responses/Unauthorized'}
        '200': {$ref: '#/components/responses/JobOrBatch'}
        '202': {$ref: '#/components/responses/Accepted'}
        '400': {$ref: '#/components/responses/BadRequest'}
        '405': {$ref: '#/components/responses/MethodNotAllowed'}
        '413': {$ref: '#/components/responses/Error'}
        '415': {$ref: '#/components/responses/Error'}
        '500': {$ref: '#/components/responses/FailedJob'}
        '503': {$ref: '#/components/responses/Unavailable'}
  /sign:
    post:
      operationId: sign
      summary: Sign the input with an ecdsa-p256 (SHA-256, DER) or ed25519 key's latest version.
      description: The signature verifies with POST /verify, or anywhere with the version's public_key_pem (GET /keys/{name}).
      parameters:
        - $ref: '#/components/parameters/Prefer'
      requestBody:
        required: true
        content:
          application/json:
            schema:
              oneOf:
                - $ref: '#/components/schemas/MACInput'
                - type: object
                  additionalProperties: false
                  required: [batch]
                  properties:
                    batch:
                      type: array
                      minItems: 1
                      maxItems: 1000
                      items: {$ref: '#/components/schemas/MACInput'}
      responses:
        '401': {$ref: '#/components/responses/Unauthorized'}
        '200': {$ref: '#/components/responses/JobOrBatch'}
        '202': {$ref: '#/components/responses/Accepted'}
        '400': {$ref: '#/components/responses/BadRequest'}
        '405': {$ref: '#/components/responses/MethodNotAllowed'}
        '413': {$ref: '#/components/responses/Error'}
        '415': {$ref: '#/components/responses/Error'}
        '500': {$ref: '#/components/responses/FailedJob'}
        '503': {$ref: '#/components/responses/Unavailable'}
  /verify:
    post:
      operationId: verify
      summary: Whether an HMAC or a signature (offload:<key>:v<n>:<base64>) is the input's; a malformed one is valid false, not an error.
      parameters:
        - $ref: '#/components/parameters/Prefer'
      requestBody:
        required: true
        content:
          application/json:
            schema:
              oneOf:
                - $ref: '#/components/schemas/VerifyInput'
                - type: object
                  additionalProperties: false
                  required: [batch]
                  properties:
                    batch:
                      type: array
                      minItems: 1
                      maxItems: 1000
                      items: {$ref: '#/components/schemas/VerifyInput'}
      responses:
        '401': {$ref: '#/components/responses/Unauthorized'}
        '200': {$ref: '#/components/responses/JobOrBatch'}
        '202': {$ref: '#/components/responses/Accepted'}
        '400': {$ref: '#/components/responses/BadRequest'}
        '405': {$ref: '#/components/responses/MethodNotAllowed'}
        '413': {$ref: '#/components/responses/Error'}
        '415': {$ref: '#/components/responses/Error'}
        '500': {$ref: '#/components/responses/FailedJob'}
        '503': {$ref: '#/components/responses/Unavailable'}
  /version:
    get:
      operationId: version
      summary: The service's version, and OpenSSL's, libmicrohttpd's and the provider it runs on.
      responses:
        '401': {$ref: '#/components/responses/Unauthorized'}
        '200':
          description: The versions.
          content:
            application/json:
              schema:
                type: object
                required: [version, openssl, libmicrohttpd, provider]
                additionalProperties: false
                properties:
                  version: {type: string, description: The same as this document's info.version.}
                  openssl: {type: string}
                  libmicrohttpd: {type: string}
                  provider: {type: string}
        '405': {$ref: '#/components/responses/MethodNotAllowed'}
  /jobs:
    get:
      operationId: listJobs
      summary: Jobs newest first, without their outputs, with counts by status.
      description: >-
        With named tokens, a principal's own jobs only (an admin's, all). With a durable
        store, every replica's async jobs and this replica's jobs in memory (its synchronous
        ones), each once. 503 store_unavailable while the store cannot be read.
      parameters:
        - name: status
          in: query
          schema: {$ref: '#/components/schemas/JobStatus'}
        - name: limit
          in: query
          schema: {type: integer, minimum: 1, maximum: 1000, default: 100}
      responses:
        '401': {$ref: '#/components/responses/Unauthorized'}
        '200':
          description: The jobs.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/JobList'}
        '400': {$ref: '#/components/responses/Error'}
        '405': {$ref: '#/components/responses/MethodNotAllowed'}
        '503': {$ref: '#/components/responses/Unavailable'}
  /jobs/{id}:
    get:
      operationId: getJob
      summary: One job with its output, while it is retained.
      description: >-
        With named tokens, another principal's job is 404 job_not_found (an admin sees all).
        The output of a synchronous job whose input was over 64 KiB is not kept. Any replica
        answers for an async job any replica ran (a synchronous one, only the replica that
        ran it); a job whose replica stopped before it finished ends failed with
        instance_lost. 503 store_unavailable while the store cannot be read.
      parameters:
        - name: id
          in: path
          required: true
          schema: {type: string, format: uuid}
      responses:
        '401': {$ref: '#/components/responses/Unauthorized'}
        '200':
          description: The job.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Job'}
        '400': {$ref: '#/components/responses/Error'}
        '404': {$ref: '#/components/responses/Error'}
        '405': {$ref: '#/components/responses/MethodNotAllowed'}
        '503': {$ref: '#/components/responses/Unavailable'}
  /keys:
    get:
      operationId: listKeys
      summary: The keys, their types and versions, never key material.
      responses:
        '401': {$ref: '#/components/responses/Unauthorized'}
        '200':
          description: The keys.
          content:
            application/json:
              schema:
                type: object
                required: [keys, ephemeral]
                additionalProperties: false
                properties:
                  keys:
                    type: array
                    items: {$ref: '#/components/schemas/KeySummary'}
                  ephemeral:
                    type: boolean
                    description: True when nothing keeps the keys beyond the process (no store and no key file).
        '405': {$ref: '#/components/responses/MethodNotAllowed'}
    post:
      operationId: createKey
      summary: Create a key; the service makes its material, which never leaves it.
      description: With tokens, an admin principal only (403 forbidden otherwise).
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [name]
              additionalProperties: false
              properties:
                name: {type: string, pattern: '^[a-z0-9][a-z0-9_-]{0,63}$'}
                type: {type: string, enum: [aes-256-gcm, chacha20-poly1305, hmac-sha256, ecdsa-p256, ed25519], default: aes-256-gcm}
      responses:
        '401': {$ref: '#/components/responses/Unauthorized'}
        '201':
          description: The key, version 1.
          headers:
            Location:
              schema: {type: string}
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Key'}
        '400': {$ref: '#/components/responses/Error'}
        '403': {$ref: '#/components/responses/Error'}
        '405': {$ref: '#/components/responses/MethodNotAllowed'}
        '409': {$ref: '#/components/responses/Error'}
        '415': {$ref: '#/components/responses/Error'}
        '503': {$ref: '#/components/responses/Unavailable'}
  /keys/{name}:
    parameters:
      - name: name
        in: path
        required: true
        schema: {type: string}
    get:
      operationId: getKey
      summary: One key with its versions (and when each was made), never key material.
      responses:
        '401': {$ref: '#/components/responses/Unauthorized'}
        '200':
          description: The key.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Key'}
        '404': {$ref: '#/components/responses/Error'}
        '405': {$ref: '#/components/responses/MethodNotAllowed'}
    patch:
      operationId: updateKey
      summary: Set min_decryption_version (older versions no longer decrypt) or deletion_allowed.
      description: With tokens, an admin principal only.
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              additionalProperties: false
              minProperties: 1
              properties:
                min_decryption_version: {type: integer, minimum: 1}
                deletion_allowed: {type: boolean}
      responses:
        '401': {$ref: '#/components/responses/Unauthorized'}
        '200':
          description: The key as changed.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Key'}
        '400': {$ref: '#/components/responses/Error'}
        '403': {$ref: '#/components/responses/Error'}
        '404': {$ref: '#/components/responses/Error'}
        '405': {$ref: '#/components/responses/MethodNotAllowed'}
        '415': {$ref: '#/components/responses/Error'}
        '503': {$ref: '#/components/responses/Unavailable'}
    delete:
      operationId: deleteKey
      summary: Delete a key and every version; only once deletion_allowed is true (409 otherwise).
      description: With tokens, an admin principal only. Its ciphertexts then never decrypt again.
      responses:
        '401': {$ref: '#/components/responses/Unauthorized'}
        '204': {description: Deleted.}
        '403': {$ref: '#/components/responses/Error'}
        '404': {$ref: '#/components/responses/Error'}
        '405': {$ref: '#/components/responses/MethodNotAllowed'}
        '409': {$ref: '#/components/responses/Error'}
        '503': {$ref: '#/components/responses/Unavailable'}
  /keys/{name}/rotate:
    parameters:
      - name: name
        in: path
        required: true
        schema: {type: string}
    post:
      operationId: rotateKey
      summary: Add a version; new encryptions use it, older versions still decrypt.
      description: >-
        With tokens, an admin principal only. Concurrent rotations get consecutive versions.
        Every replica uses the new version within about a second.
      responses:
        '401': {$ref: '#/components/responses/Unauthorized'}
        '200':
          description: The key with its new version.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Key'}
        '403': {$ref: '#/components/responses/Error'}
        '404': {$ref: '#/components/responses/Error'}
        '405': {$ref: '#/components/responses/MethodNotAllowed'}
        '503': {$ref: '#/components/responses/Unavailable'}
  /stats:
    get:
      operationId: stats
      summary: What the live page shows besides the job list.
      description: |
        The provider, the engine loops and their jobs, totals of finished jobs since start, and
        the simulated device's ring and units (null on another provider). A few numbers per
        loop and unit: cheap to poll every second.
      responses:
        '200':
          description: The service's figures now.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Stats'}
        '401': {$ref: '#/components/responses/Unauthorized'}
        '405': {$ref: '#/components/responses/MethodNotAllowed'}
  /:
    get:
      operationId: livePage
      summary: The live page of the jobs on the device (HTML; needs no token, asks for one).
      security:
        - {}
      responses:
        '200':
          description: The page, with a Content-Security-Policy that allows only its own script and style.
          content:
            text/html:
              schema: {type: string}
        '304':
          description: The page has not changed since the ETag named in If-None-Match.
        '405': {$ref: '#/components/responses/MethodNotAllowed'}
  /page/{file}:
    get:
      operationId: livePageFile
      summary: The live page's script and style sheet.
      security:
        - {}
      parameters:
        - {name: file, in: path, required: true, schema: {type: string, enum: [app.js, style.css]}}
      responses:
        '200':
          description: The file.
          content:
            text/javascript:
              schema: {type: string}
            text/css:
              schema: {type: string}
        '304':
          description: The file has not changed since the ETag named in If-None-Match.
        '404': {$ref: '#/components/responses/Error'}
        '405': {$ref: '#/components/responses/MethodNotAllowed'}
  /healthz:
    get:
      operationId: health
      summary: Liveness.
      responses:
        '200':
          description: The process is alive.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Status'}
        '405': {$ref: '#/components/responses/MethodNotAllowed'}
  /readyz:
    get:
      operationId: ready
      summary: Readiness; 503 while draining, saturated or out of memory for work in flight (memory_exhausted); 200 with status degraded and error store_unavailable while the job store is unavailable.
      responses:
        '200':
          description: Ready for traffic.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Status'}
        '405': {$ref: '#/components/responses/MethodNotAllowed'}
        '503': {$ref: '#/components/responses/Unavailable'}
  /metrics:
    get:
      operationId: metrics
      summary: Prometheus text exposition.
      responses:
        '401': {$ref: '#/components/responses/Unauthorized'}
        '200':
          description: The metrics.
          content:
            text/plain:
              schema: {type: string}
        '405': {$ref: '#/components/responses/MethodNotAllowed'}
  /openapi.yaml:
    get:
      operationId: openAPI
      summary: This document.
      responses:
        '401': {$ref: '#/components/responses/Unauthorized'}
        '200':
          description: The OpenAPI document.
          headers:
            ETag:
              description: Its validator, for If-None-Match.
              schema: {type: string}
          content:
            application/yaml:
              schema: {type: string}
        '304':
          description: The document has not changed since the ETag named in If-None-Match.
        '405': {$ref: '#/components/responses/MethodNotAllowed'}
components:
  securitySchemes:
    bearer:
      type: http
      scheme: bearer
      description: >-
        Needed on every route but /healthz and /readyz when the service runs with
        --auth-token-file; each token names a principal, which sees only its own jobs.
  parameters:
    Algorithm:
      name: algorithm
      in: query
      description: For raw bodies only.
      schema: {$ref: '#/components/schemas/Algorithm'}
    Key:
      name: key
      in: query
      description: Key name, for raw bodies with an AEAD algorithm.
      schema: {type: string}
    Prefer:
      name: Prefer
      in: header
      description: '`respond-async` answers 202 at once (RFC 7240).'
      schema: {type: string}
    Accept:
      name: Accept
      in: header
      description: >-
        `application/octet-stream` (preferred over `application/json`) answers a completed
        single job with its raw output and the job in `Offload-*` headers.
      schema: {type: string}
  requestBodies:
    JobInput:
      required: true
      content:
        application/json:
          schema:
            oneOf:
              - $ref: '#/components/schemas/InputObject'
              - $ref: '#/components/schemas/Batch'
        application/octet-stream:
          schema: {type: string, format: binary, minLength: 1}
        text/plain:
          schema: {type: string, minLength: 1}
  responses:
    JobOrBatch:
      description: >-
        The finished job, or a batch's results in input order. A single job's client that
        prefers `application/octet-stream` in `Accept` gets the raw output instead, with the
        job's fields in `Offload-*` headers.
      headers:
        Vary:
          description: Accept (the answer is JSON or the raw output).
          schema: {type: string}
        Offload-Job-Id:
          description: With a raw output, the job's id (GET /jobs/{id}).
          schema: {type: string, format: uuid}
        Offload-Job-Status:
          description: With a raw output, completed.
          schema: {type: string}
        Offload-Operation: {description: 'With a raw output, as in the JSON.', schema: {type: string}}
        Offload-Algorithm: {description: 'With a raw output, as in the JSON.', schema: {type: string}}
        Offload-Key: {description: 'With a raw output of an AEAD job, the key''s name.', schema: {type: string}}
        Offload-Key-Version: {description: 'With a raw output of an AEAD job, the key''s version.', schema: {type: string}}
        Offload-Provider: {description: 'With a raw output, as in the JSON.', schema: {type: string}}
        Offload-Owner: {description: 'With a raw output, as in the JSON.', schema: {type: string}}
        Offload-Input-Bytes: {description: 'With a raw output, as in the JSON.', schema: {type: integer}}
        Offload-Pauses: {description: 'With a raw output, as in the JSON.', schema: {type: integer}}
        Offload-Device-Unit: {description: 'With a raw output, as in the JSON.', schema: {type: integer}}
        Offload-Engine: {description: 'With a raw output, as in the JSON.', schema: {type: integer}}
        Offload-Created-At: {description: 'With a raw output, as in the JSON.', schema: {type: string}}
        Offload-Started-At: {description: 'With a raw output, as in the JSON.', schema: {type: string}}
        Offload-Completed-At: {description: 'With a raw output, as in the JSON.', schema: {type: string}}
        Offload-Timings-Ms:
          description: With a raw output, the JSON's timings_ms as `queued=0.05, device=2.03, total=2.12`.
          schema: {type: string}
      content:
        application/json:
          schema:
            oneOf:
              - $ref: '#/components/schemas/Job'
              - $ref: '#/components/schemas/BatchResults'
        application/octet-stream:
          schema: {type: string, format: binary}
    Accepted:
      description: Accepted (Prefer respond-async); poll the Content-Location.
      headers:
        Content-Location:
          description: The job's status monitor, /jobs/{id}.
          schema: {type: string}
        Location:
          description: The same, for clients that look here.
          schema: {type: string}
        Retry-After:
          description: Seconds until a poll is worth making.
          schema: {type: integer}
      content:
        application/json:
          schema: {$ref: '#/components/schemas/Job'}
    FailedJob:
      description: The job failed (device error 502, timeout 504, other 500); the job is the body.
      content:
        application/json:
          schema: {$ref: '#/components/schemas/Job'}
    BadRequest:
      description: Bad input, or a failed authentication (the failed job).
      content:
        application/json:
          schema:
            oneOf:
              - $ref: '#/components/schemas/Error'
              - $ref: '#/components/schemas/Job'
    Error:
      description: An error.
      content:
        application/json:
          schema: {$ref: '#/components/schemas/Error'}
    Unauthorized:
      description: An auth token is configured and the request lacks it or has another.
      headers:
        WWW-Authenticate:
          schema: {type: string}
      content:
        application/json:
          schema: {$ref: '#/components/schemas/Error'}
    MethodNotAllowed:
      description: Known path, wrong method.
      headers:
        Allow:
          schema: {type: string}
      content:
        application/json:
          schema: {$ref: '#/components/schemas/Error'}
    Unavailable:
      description: Overloaded, draining, shutting down, or the job store unavailable; retry after the given seconds.
      headers:
        Retry-After:
          schema: {type: string}
      content:
        application/json:
          schema:
            oneOf:
              - $ref: '#/components/schemas/Error'
              - $ref: '#/components/schemas/Job'
  schemas:
    MACInput:
      type: object
      additionalProperties: false
      required: [key]
      description: The key and exactly one of input, input_hex, input_base64.
      properties:
        key: {type: string, description: An hmac-sha256 key's name (/hmac), or an ecdsa-p256 or ed25519 key's (/sign).}
        input: {type: string}
        input_hex: {type: string, pattern: '^([0-9a-fA-F]{2})*$'}
        input_base64: {type: string}
    VerifyInput:
      type: object
      additionalProperties: false
      required: [key]
      description: The key, one input field, and hmac (an HMAC key) or signature (a signing key).
      properties:
        signature: {type: string, description: 'offload:<key>:v<version>:<base64>, as /sign answers it.'}
        key: {type: string, description: An hmac-sha256 key's name.}
        input: {type: string}
        input_hex: {type: string, pattern: '^([0-9a-fA-F]{2})*$'}
        input_base64: {type: string}
        hmac: {type: string, description: 'offload:<key>:v<version>:<base64>, as /hmac answers it.'}
    CiphertextObject:
      type: object
      additionalProperties: false
      required: [ciphertext]
      properties:
        ciphertext: {type: string, description: 'offload:<key>:v<version>:<base64>, as /encrypt answers it.'}
        aad_base64: {type: string, description: The associated data it was sealed with.}
    KeySummary:
      type: object
      required: [name, type, latest_version, min_decryption_version, deletion_allowed, created_at, default]
      additionalProperties: false
      properties:
        name: {type: string}
        type: {type: string, enum: [aes-256-gcm, chacha20-poly1305, hmac-sha256, ecdsa-p256, ed25519]}
        latest_version: {type: integer, minimum: 1}
        min_decryption_version: {type: integer, minimum: 1}
        deletion_allowed: {type: boolean}
        created_at: {type: string, format: date-time}
        default: {type: boolean, description: The key a request that names none uses.}
    Key:
      type: object
      required: [name, type, latest_version, min_decryption_version, deletion_allowed, created_at, default, versions]
      additionalProperties: false
      properties:
        name: {type: string}
        type: {type: string, enum: [aes-256-gcm, chacha20-poly1305, hmac-sha256, ecdsa-p256, ed25519]}
        latest_version: {type: integer, minimum: 1}
        min_decryption_version: {type: integer, minimum: 1}
        deletion_allowed: {type: boolean}
        created_at: {type: string, format: date-time}
        default: {type: boolean, description: The key a request that names none uses.}
        versions:
          type: object
          additionalProperties:
            type: object
            required: [created_at]
            additionalProperties: false
            properties:
              created_at: {type: string, format: date-time}
              public_key_pem: {type: string, description: A signing key version's public key (SubjectPublicKeyInfo PEM).}
    Algorithm:
      type: string
      enum: [xor-0xaa, aes-256-gcm, chacha20-poly1305, hmac-sha256, ecdsa-p256, ed25519]
    JobStatus:
      type: string
      enum: [queued, running, completed, failed]
    InputObject:
      type: object
      additionalProperties: false
      description: >-
        Exactly one of input, input_hex, input_base64, or (to /decrypt) ciphertext, which names
        its key and version and takes neither algorithm, key nor key_version.
      properties:
        input: {type: string, description: UTF-8 text}
        input_hex: {type: string, pattern: '^([0-9a-fA-F]{2})*$'}
        input_base64: {type: string}
        ciphertext: {type: string, description: 'offload:<key>:v<version>:<base64>, as /encrypt answers it.'}
        algorithm: {$ref: '#/components/schemas/Algorithm'}
        key:
          type: string
          description: >-
            Key name for AEAD algorithms; the default key when left out. A key named without an
            algorithm means the key's own type.
        key_version:
          type: integer
          minimum: 1
          description: The version to decrypt hex or base64 input with (1 when left out); encryption uses the latest.
        aad_base64: {type: string, description: Associated data for AEAD algorithms.}
    Batch:
      type: object
      additionalProperties: false
      required: [batch]
      properties:
        batch:
          type: array
          minItems: 1
          maxItems: 1000
          items: {$ref: '#/components/schemas/InputObject'}
    ErrorDetail:
      type: object
      required: [code, message]
      additionalProperties: false
      properties:
        code: {type: string, pattern: '^[a-z0-9_]+$'}
        message: {type: string}
    Error:
      type: object
      required: [error]
      additionalProperties: false
      properties:
        error: {$ref: '#/components/schemas/ErrorDetail'}
    Timestamp:
      type: [string, 'null']
      pattern: '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$'
    Milliseconds:
      type: [number, 'null']
      minimum: 0
    Stats:
      type: object
      additionalProperties: false
      required: [now_ms, provider, engines, jobs, device]
      properties:
        now_ms: {type: integer, description: The service's wall clock, milliseconds since the epoch.}
        provider: {type: string}
        engines:
          type: array
          items:
            type: object
            additionalProperties: false
            required: [index, jobs]
            properties:
              index: {type: integer, minimum: 0}
              jobs: {type: integer, minimum: 0, description: Jobs submitted to this loop and not finished.}
        jobs:
          type: object
          additionalProperties: false
          required: [in_flight, queued, completed_total, failed_total]
          properties:
            in_flight: {type: integer, minimum: 0}
            queued: {type: integer, minimum: 0}
            completed_total: {type: integer, minimum: 0, description: Since start, retained or not.}
            failed_total: {type: integer, minimum: 0}
            store_completed_total:
              type: integer
              minimum: 0
              description: With a durable store, every replica's since the store was made (written once a second).
            store_failed_total: {type: integer, minimum: 0}
        device:
          oneOf:
            - type: 'null'
            - type: object
              additionalProperties: false
              required: [ring, ring_depth, latency_ms, throughput_bytes_per_second, unit_busy_seconds]
              properties:
                ring: {type: integer, minimum: 0, description: Operations on the device now.}
                ring_depth: {type: integer, minimum: 1}
                latency_ms: {type: number, minimum: 0}
                throughput_bytes_per_second: {type: [integer, 'null'], description: Per unit; null is unlimited.}
                unit_busy_seconds:
                  type: array
                  items: {type: number, minimum: 0}
    Job:
      type: object
      additionalProperties: false
      required: [id, status, operation, algorithm, input_bytes, output_bytes, provider, pauses, device_unit, engine,
                 created_at, started_at, completed_at, timings_ms]
      properties:
        id: {type: string, format: uuid}
        status: {$ref: '#/components/schemas/JobStatus'}
        operation: {type: string, enum: [encrypt, decrypt, rewrap, datakey, hmac, sign, verify]}
        hmac: {type: string, description: 'A completed /hmac job''s MAC, offload:<key>:v<version>:<base64>, which /verify takes.'}
        valid: {type: boolean, description: A completed /verify job's answer.}
        signature: {type: string, description: 'A completed /sign job''s signature, offload:<key>:v<version>:<base64>.'}
        algorithm: {$ref: '#/components/schemas/Algorithm'}
        key: {type: string, description: The key's name (never its bytes).}
        key_version: {type: [integer, 'null'], minimum: 1, description: The version of the key the job used (a rewrap's, the new one).}
        plaintext_base64:
          type: string
          description: In the answer of POST /datakey that asked for it only; never in a job record.
        ciphertext:
          type: string
          pattern: '^offload:[^:]+:v[0-9]+:[A-Za-z0-9+/]*={0,2}$'
          description: >-
            On a completed encryption whose algorithm is its key's type: what POST /decrypt
            takes alone, {"ciphertext": "offload:<key>:v<version>:<base64>"}.
        input_bytes: {type: integer, minimum: 1}
        output_bytes: {type: [integer, 'null'], minimum: 0}
        output_hex: {type: string, pattern: '^([0-9a-f]{2})*$', description: Only on a completed job, never in lists.}
        output_retained:
          const: false
          description: >-
            Present when the job completed and its output was answered to its client but not
            kept: the output of a synchronous job whose input is over 64 KiB.
        provider: {type: string, description: 'The OpenSSL provider that ran the job (offloadsim, default, ...).'}
        owner: {type: string, description: 'The principal (token name) the job belongs to, when the service has tokens.'}
        pauses: {type: integer, minimum: 0, description: Times the ASYNC job paused inside the provider (0 for software crypto).}
        device_unit: {type: [integer, 'null'], minimum: 0}
        engine: {type: [integer, 'null'], minimum: 0}
        created_at: {$ref: '#/components/schemas/Timestamp'}
        started_at: {$ref: '#/components/schemas/Timestamp'}
        completed_at: {$ref: '#/components/schemas/Timestamp'}
        timings_ms:
          type: object
          additionalProperties: false
          required: [queued, device, total]
          properties:
            queued: {$ref: '#/components/schemas/Milliseconds'}
            device: {$ref: '#/components/schemas/Milliseconds'}
            total: {$ref: '#/components/schemas/Milliseconds'}
        error: {$ref: '#/components/schemas/ErrorDetail'}
    BatchResults:
      type: object
      additionalProperties: false
      required: [results]
      properties:
        results:
          type: array
          items:
            oneOf:
              - $ref: '#/components/schemas/Job'
              - type: object
                description: An item that never ran.
                additionalProperties: false
                required: [status, error]
                properties:
                  status: {const: failed}
                  error: {$ref: '#/components/schemas/ErrorDetail'}
    JobList:
      type: object
      additionalProperties: false
      required: [jobs, counts]
      properties:
        jobs:
          type: array
          items: {$ref: '#/components/schemas/Job'}
        counts:
          type: object
          additionalProperties: false
          required: [queued, running, completed, failed]
          properties:
            queued: {type: integer, minimum: 0}
            running: {type: integer, minimum: 0}
            completed: {type: integer, minimum: 0}
            failed: {type: integer, minimum: 0}
    Status:
      type: object
      required: [status]
      additionalProperties: false
      properties:
        status: {type: string, description: 'ok, ready, or degraded (then error says why)'}
        error: {$ref: '#/components/schemas/ErrorDetail'}
"""#
}
