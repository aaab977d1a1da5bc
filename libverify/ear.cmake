# Attestation results: ES256 JWS, JWK/JWKS, EAR claims (DESIGN §7) and
# stateless challenge nonces (DESIGN §8).
list(APPEND VFY_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/src/nonce.c
)
list(APPEND VFY_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/src/jwk.c
  ${CMAKE_CURRENT_LIST_DIR}/src/jws.c
  ${CMAKE_CURRENT_LIST_DIR}/src/ear.c
)
