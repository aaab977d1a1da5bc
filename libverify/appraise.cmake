# Appraisal: evidence to verdict to signed EAR (DESIGN §3-§7).
list(APPEND VFY_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/src/appraise.c
  ${CMAKE_CURRENT_LIST_DIR}/src/committer.c)
