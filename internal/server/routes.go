package server

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/rbac"
)

// router is what routes registers on and matches with: *http.ServeMux, or
// a recorder in tests.
type router interface {
	Handle(pattern string, h http.Handler)
	Handler(r *http.Request) (h http.Handler, pattern string)
}

// routes lists every endpoint: the whole surface on one screen.
func (s *Server) routes(mux router) {
	// OpenID Connect discovery and keys.
	mux.Handle("GET /.well-known/openid-configuration", s.handleDiscovery())
	mux.Handle("GET /.well-known/jwks.json", s.handleJWKS())

	// OAuth 2.0 endpoints (RFC 6749 error dialect).
	mux.Handle("POST /oauth2/token", s.handleToken())
	mux.Handle("POST /oauth2/revoke", s.handleRevoke())
	mux.Handle("POST /oauth2/introspect", s.handleIntrospect())
	mux.Handle("GET /oauth2/userinfo", s.handleUserinfo())
	mux.Handle("POST /oauth2/userinfo", s.handleUserinfo())

	// Health.
	mux.Handle("GET /healthz", s.handleHealthz())
	mux.Handle("GET /readyz", s.handleReadyz())

	// REST API (RFC 9457 problem dialect).
	mux.Handle("GET /api/v1/password-policy", s.handlePasswordPolicy())
	mux.Handle("POST /api/v1/activate", s.handleActivate())

	mux.Handle("GET /api/v1/me", s.authed("", s.handleGetMe))
	mux.Handle("PATCH /api/v1/me", s.authed("", s.handleUpdateMe))
	mux.Handle("POST /api/v1/me/password", s.authed("", s.handleChangeMyPassword, rbac.LimitPasswordChange))
	mux.Handle("GET /api/v1/me/sessions", s.authed("", s.handleListMySessions))
	mux.Handle("DELETE /api/v1/me/sessions/{sid}", s.authed("", s.handleRevokeMySession))

	mux.Handle("POST /api/v1/me/mfa/totp", s.authed("", s.handleBeginTOTP, rbac.LimitMFAEnrollment))
	mux.Handle("POST /api/v1/me/mfa/totp/confirm", s.authed("", s.handleConfirmTOTP, rbac.LimitMFAEnrollment))
	mux.Handle("DELETE /api/v1/me/mfa/totp", s.authed("", s.handleRemoveTOTP, rbac.LimitMFAEnrollment))
	mux.Handle("POST /api/v1/me/mfa/recovery-codes", s.authed("", s.handleRegenerateRecovery))

	mux.Handle("GET /api/v1/users", s.authed(rbac.PermUsersRead, s.handleListUsers))
	mux.Handle("POST /api/v1/users", s.authed(rbac.PermUsersManage, s.handleCreateUser))
	mux.Handle("GET /api/v1/users/{id}", s.authed(rbac.PermUsersRead, s.handleGetUser))
	mux.Handle("PATCH /api/v1/users/{id}", s.authed(rbac.PermUsersManage, s.handleUpdateUser))
	mux.Handle("DELETE /api/v1/users/{id}", s.authed(rbac.PermUsersManage, s.handleDeleteUser))
	mux.Handle("PUT /api/v1/users/{id}/roles", s.authed(rbac.PermUsersManage, s.handleSetUserRoles))
	mux.Handle("PUT /api/v1/users/{id}/groups", s.authed(rbac.PermUsersManage, s.handleSetUserGroups))
	mux.Handle("POST /api/v1/users/{id}/disable", s.authed(rbac.PermUsersManage, s.handleUserAction(s.users.Disable)))
	mux.Handle("POST /api/v1/users/{id}/enable", s.authed(rbac.PermUsersManage, s.handleUserAction(s.users.Enable)))
	mux.Handle("POST /api/v1/users/{id}/unlock", s.authed(rbac.PermUsersManage, s.handleUserAction(s.users.Unlock)))
	mux.Handle("POST /api/v1/users/{id}/password", s.authed(rbac.PermUsersManage, s.handleSetUserPassword))
	mux.Handle("POST /api/v1/users/{id}/activation-token", s.authed(rbac.PermUsersManage, s.handleActivationToken))
	mux.Handle("DELETE /api/v1/users/{id}/mfa", s.authed(rbac.PermUsersManage, s.handleResetUserMFA))
	mux.Handle("GET /api/v1/users/{id}/sessions", s.authed(rbac.PermUsersRead, s.handleListUserSessions))
	mux.Handle("DELETE /api/v1/users/{id}/sessions", s.authed(rbac.PermUsersManage, s.handleRevokeUserSessions))
	mux.Handle("DELETE /api/v1/users/{id}/sessions/{sid}", s.authed(rbac.PermUsersManage, s.handleRevokeUserSession))

	mux.Handle("GET /api/v1/roles", s.authed("", s.handleListRoles))
	mux.Handle("POST /api/v1/roles", s.authed(rbac.PermRolesManage, s.handleSaveRole(true)))
	mux.Handle("PUT /api/v1/roles/{name}", s.authed(rbac.PermRolesManage, s.handleSaveRole(false)))
	mux.Handle("DELETE /api/v1/roles/{name}", s.authed(rbac.PermRolesManage, s.handleDeleteRole))
	mux.Handle("GET /api/v1/permissions", s.authed("", s.handleListPermissions))
	mux.Handle("GET /api/v1/groups", s.authed("", s.handleListGroups))
	mux.Handle("POST /api/v1/groups", s.authed(rbac.PermRolesManage, s.handleSaveGroup(true)))
	mux.Handle("PUT /api/v1/groups/{name}", s.authed(rbac.PermRolesManage, s.handleSaveGroup(false)))
	mux.Handle("DELETE /api/v1/groups/{name}", s.authed(rbac.PermRolesManage, s.handleDeleteGroup))

	mux.Handle("GET /api/v1/clients", s.authed(rbac.PermClientsManage, s.handleListClients))
	mux.Handle("POST /api/v1/clients", s.authed(rbac.PermClientsManage, s.handleCreateClient))
	mux.Handle("GET /api/v1/clients/{id}", s.authed(rbac.PermClientsManage, s.handleGetClient))
	mux.Handle("DELETE /api/v1/clients/{id}", s.authed(rbac.PermClientsManage, s.handleDeleteClient))

	mux.Handle("POST /api/v1/keys/verify", s.handleVerifyKey())
	mux.Handle("GET /api/v1/forward-auth", s.handleForwardAuth())
	mux.Handle("POST /api/v1/keys", s.authed("", s.handleCreateKey))
	mux.Handle("GET /api/v1/keys", s.authed("", s.handleListKeys))
	mux.Handle("GET /api/v1/keys/{id}", s.authed("", s.handleGetKey))
	mux.Handle("DELETE /api/v1/keys/{id}", s.authed("", s.handleRevokeKey))
	mux.Handle("POST /api/v1/keys/{id}/rotate", s.authed("", s.handleRotateKey))
	mux.Handle("GET /api/v1/keys/{id}/usage", s.authed("", s.handleKeyUsage))

	mux.Handle("GET /api/v1/audit", s.authed(rbac.PermAuditRead, s.handleListAudit))
	mux.Handle("GET /api/v1/audit/export", s.authed(rbac.PermAuditRead, s.handleExportAudit))

	// Anything else: a 405 when the path has other methods, else a 404
	// problem; never the mux's plain text and no listing.
	mux.Handle(catchAll, handleUnmatched(mux))
}
