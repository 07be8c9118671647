package apperr

// Stable error codes. Clients may match on them; never rename one.
const (
	CodeInternal         = "internal_error"
	CodeValidationFailed = "validation_failed"
	CodeMalformedJSON    = "malformed_json"
	CodeBodyTooLarge     = "body_too_large"
	CodeUnavailable      = "service_unavailable"
	CodeHashPoolFull     = "hash_pool_full"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeUnsupportedMedia = "unsupported_media_type"

	CodeUnauthenticated   = "unauthenticated"
	CodeInvalidToken      = "invalid_token"
	CodeInsufficientScope = "insufficient_scope"
	CodePermissionDenied  = "permission_denied"
	CodeMFARequired       = "mfa_required"

	CodeUserNotFound      = "user_not_found"
	CodeUsernameTaken     = "username_taken"
	CodeEmailTaken        = "email_taken"
	CodeLastAdmin         = "last_admin"
	CodeWeakPassword      = "weak_password"
	CodeUserNotActive     = "user_not_active"
	CodeInvalidActivation = "invalid_activation_token"
	CodeWrongPassword     = "wrong_password"

	CodeRoleNotFound  = "role_not_found"
	CodeRoleExists    = "role_exists"
	CodeRoleInUse     = "role_in_use"
	CodeRoleCycle     = "role_cycle"
	CodeGroupNotFound = "group_not_found"
	CodeGroupExists   = "group_exists"

	CodeClientNotFound = "client_not_found"
	CodeClientExists   = "client_exists"
	CodeClientBuiltIn  = "client_built_in"

	CodeSessionNotFound = "session_not_found"
	CodeInvalidCursor   = "invalid_cursor"
	CodeRateLimited     = "rate_limited"
)
