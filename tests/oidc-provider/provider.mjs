// A real OpenID Connect provider for the command centre's login journey:
// panva's node-oidc-provider (an OpenID Certified implementation), configured
// as a government single sign-on would be for flatgov — one public client
// (the command centre) that must use PKCE with S256, ID tokens and JWT access
// tokens for the audience `flatgov` carrying Keycloak-style claims
// (preferred_username, realm_access.roles, jurisdiction, org).
//
//   FLATGOV_OIDC_CLIENT_ID=flatgov-command \
//   FLATGOV_OIDC_REDIRECT_URIS=http://127.0.0.1:8080/command/oidc/callback \
//   FLATGOV_OIDC_ACCOUNTS='{"disp-001":{"realm_access":{"roles":["dispatcher"]},...}}' \
//   node tests/oidc-provider/provider.mjs
//
// Listens on a free port of 127.0.0.1 and prints one line,
// `issuer http://127.0.0.1:<port>`, once it serves. The login
// page is the provider's own (its "dev interactions"): a person signs in with
// one of the accounts' names (any password); an unknown name is refused by
// the provider. A first-party client needs no consent screen, as at a
// government SSO.

import http from 'node:http';
import { generateKeyPair, exportJWK } from 'jose';
import Provider from 'oidc-provider';

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set`);
    process.exit(2);
  }
  return value;
}

const clientId = required('FLATGOV_OIDC_CLIENT_ID');
const redirectUris = required('FLATGOV_OIDC_REDIRECT_URIS').split(',').map((uri) => uri.trim());
const accounts = JSON.parse(required('FLATGOV_OIDC_ACCOUNTS'));
const audience = process.env.FLATGOV_OIDC_AUDIENCE || 'flatgov';
const resource = 'urn:flatgov:api';

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const signingKey = { ...(await exportJWK(privateKey)), kid: 'test-sso-rs256', alg: 'RS256', use: 'sig' };

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    token_endpoint_auth_method: 'none',
    redirect_uris: redirectUris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  jwks: { keys: [signingKey] },
  // Public clients must send a code_challenge, and only S256 is accepted.
  pkce: { required: () => true },
  // A person's claims, in the shape Keycloak gives them.
  claims: {
    openid: ['sub'],
    profile: ['preferred_username'],
  },
  async findAccount(_ctx, id) {
    const claims = accounts[id];
    if (!claims) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: id };
      },
    };
  },
  // The access token is a JWT for flatgov's services (audience `flatgov`);
  // with no userinfo endpoint every code's token is for that resource.
  features: {
    devInteractions: { enabled: true },
    userinfo: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => resource,
      useGrantedResource: async () => true,
      getResourceServerInfo: async () => ({
        scope: 'flatgov',
        audience,
        accessTokenFormat: 'jwt',
        accessTokenTTL: 15 * 60,
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  async extraTokenClaims(_ctx, token) {
    if (token.kind !== 'AccessToken') return undefined;
    const claims = accounts[token.accountId] || {};
    return { preferred_username: token.accountId, ...claims };
  },
  // The command centre is first-party: no consent screen.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile');
    grant.addResourceScope(resource, 'flatgov');
    await grant.save();
    return grant;
  },
  ttl: { AuthorizationCode: 60, Session: 3600, Interaction: 600, Grant: 3600, IdToken: 900 },
});
provider.on('server_error', (_ctx, error) => console.error('server_error', error));
provider.on('grant.error', (_ctx, error) => console.error('grant.error', error.message, error.error_description || ''));
provider.on('authorization.error', (_ctx, error) => console.error('authorization.error', error.message, error.error_description || ''));
server.on('request', provider.callback());
console.log(`issuer ${issuer}`);
