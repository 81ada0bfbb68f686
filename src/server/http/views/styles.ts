/**
 * The one stylesheet, served at /assets/latchkey.css (CSP style-src 'self': no inline styles).
 * System fonts only (no web fonts, no CDN). Text colours meet WCAG 2.2 AA contrast (≥ 4.5:1) on
 * their backgrounds; focus is a dark outline plus a yellow halo, visible on any background.
 */
export const stylesheet = `
:root {
  --fg: #161a22; --muted: #4a5160; --bg: #eef1f6; --card: #fff; --border: #d3d8e2; --field: #6b7385;
  --accent: #2b45c4; --accent-hover: #1f3498; --accent-soft: #e8ecfb; --accent-fg: #fff;
  --danger: #a3161b; --danger-soft: #fdf0f0; --focus: #ffbf47; --code: #eef0f5;
}
* { box-sizing: border-box; }
html { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--fg); background: var(--bg); line-height: 1.5; -webkit-text-size-adjust: 100%; }
body { margin: 0; min-height: 100vh; display: flex; flex-direction: column; align-items: center; }
a { color: var(--accent); text-underline-offset: 2px; }
a:hover { color: var(--accent-hover); }
.skip-link { position: absolute; left: .75rem; top: -4rem; z-index: 10; background: var(--fg); color: #fff; padding: .6rem 1rem; border-radius: 8px; font-weight: 600; }
.skip-link:focus { top: .75rem; color: #fff; }
:focus-visible { outline: 3px solid var(--fg); outline-offset: 2px; box-shadow: 0 0 0 6px var(--focus); }
main:focus { outline: none; box-shadow: none; }
.top { width: 100%; display: flex; justify-content: space-between; align-items: center; gap: .5rem 1rem; flex-wrap: wrap; padding: .8rem 1.5rem; background: var(--card); border-bottom: 1px solid var(--border); }
.brand { display: inline-flex; align-items: center; gap: .55rem; font-weight: 750; font-size: 1.1rem; letter-spacing: -.01em; color: var(--fg); text-decoration: none; }
.brand-mark { width: 1.6rem; height: 1.6rem; border-radius: 7px; background: var(--accent); position: relative; }
.brand-mark::after { content: ""; position: absolute; left: 50%; top: 50%; width: .5rem; height: .5rem; margin: -.45rem 0 0 -.25rem; border: 2px solid #fff; border-radius: 50%; }
.brand-mark::before { content: ""; position: absolute; left: 50%; top: 50%; width: 2px; height: .45rem; margin: .05rem 0 0 -1px; background: #fff; }
.top-logout { display: flex; gap: .85rem; align-items: center; margin: 0; flex-wrap: wrap; }
.who { color: var(--muted); font-size: .95rem; }
.card { width: min(30rem, calc(100% - 2rem)); margin: 3rem 1rem 2rem; padding: 2.25rem 2.25rem 2rem; background: var(--card); border: 1px solid var(--border); border-radius: 16px; box-shadow: 0 1px 2px rgba(20,30,60,.06), 0 8px 28px rgba(20,30,60,.07); }
.card.wide { width: min(48rem, calc(100% - 2rem)); }
h1 { font-size: 1.6rem; line-height: 1.25; margin: 0 0 .5rem; letter-spacing: -.015em; }
h2 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
p { margin: .5rem 0 1rem; }
.lead { color: var(--muted); font-size: 1.02rem; margin-top: 0; }
.muted { color: var(--muted); }
.note { color: var(--muted); font-size: .9rem; margin: 1.25rem 0 0; }
.empty { padding: 1rem; border: 1px dashed var(--field); border-radius: 10px; color: var(--muted); }
.client { font-weight: 700; color: var(--fg); }
.stack { margin-top: 1.25rem; }
.field { margin-bottom: 1rem; }
label { display: block; font-weight: 600; margin-bottom: .35rem; }
input[type=text], input[type=password] { width: 100%; padding: .7rem .8rem; font: inherit; border: 1px solid var(--field); border-radius: 8px; color: var(--fg); background: #fff; }
input[aria-invalid=true] { border-color: var(--danger); border-width: 2px; }
button, .button { display: inline-flex; justify-content: center; align-items: center; font: inherit; font-weight: 650; padding: .7rem 1.3rem; min-height: 2.75rem; border-radius: 8px; border: 1px solid var(--accent); background: var(--accent); color: var(--accent-fg); cursor: pointer; text-decoration: none; }
button:hover, .button:hover { background: var(--accent-hover); border-color: var(--accent-hover); color: var(--accent-fg); }
button.secondary { background: #fff; color: var(--accent); }
button.secondary:hover { background: var(--accent-soft); color: var(--accent-hover); }
button.danger { background: #fff; color: var(--danger); border-color: var(--danger); }
button.danger:hover { background: var(--danger-soft); color: var(--danger); }
button.link { background: none; border: none; color: var(--accent); padding: .25rem; min-height: 0; text-decoration: underline; text-underline-offset: 2px; font-weight: 500; }
button.link:hover { color: var(--accent-hover); background: none; }
.wide-button { width: 100%; }
.actions { display: flex; gap: .75rem; margin-top: 1.5rem; flex-wrap: wrap; }
.actions button { flex: 1 1 8rem; }
.alert { border-left: 4px solid var(--danger); background: var(--danger-soft); padding: .75rem 1rem; border-radius: 8px; margin: 1rem 0; }
.alert p { margin: 0; }
.app-badge { width: 3.25rem; height: 3.25rem; border-radius: 14px; background: var(--accent-soft); color: var(--accent); display: grid; place-items: center; font-weight: 750; font-size: 1.15rem; margin-bottom: 1rem; }
.scopes { list-style: none; padding: 0; margin: 1rem 0; }
.scopes li { display: flex; justify-content: space-between; align-items: center; gap: .75rem; flex-wrap: wrap; padding: .7rem .9rem; border: 1px solid var(--border); border-radius: 10px; margin-bottom: .5rem; }
.scopes li::before { content: ""; width: .55rem; height: .55rem; border-radius: 50%; background: var(--accent); flex: none; }
.scope-text { flex: 1; font-weight: 600; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .88em; background: var(--code); color: var(--fg); padding: .1rem .35rem; border-radius: 5px; overflow-wrap: anywhere; }
dl.details { display: grid; grid-template-columns: max-content 1fr; gap: .35rem 1rem; margin: 1rem 0 0; font-size: .95rem; }
dl.details dt { color: var(--muted); }
dl.details dd { margin: 0; }
dl.compare { display: grid; grid-template-columns: max-content 1fr; gap: .5rem 1rem; margin: .5rem 0 1rem; padding: 1rem; border: 1px solid var(--border); border-radius: 10px; }
dl.compare dt { font-weight: 600; }
dl.compare dd { margin: 0; }
dl.compare .difference { font-weight: 650; color: var(--danger); }
table { width: 100%; border-collapse: collapse; margin: 1rem 0; }
th, td { text-align: left; padding: .75rem .5rem; border-bottom: 1px solid var(--border); vertical-align: top; }
th { font-size: .85rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
.visually-hidden { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
.foot { display: flex; align-items: center; gap: .4rem; color: var(--muted); font-size: .85rem; margin: auto 0 1.5rem; padding-top: 1rem; }
.lock { width: .7rem; height: .55rem; background: var(--muted); border-radius: 2px; position: relative; margin-top: .3rem; }
.lock::before { content: ""; position: absolute; left: .12rem; top: -.38rem; width: .3rem; height: .35rem; border: 2px solid var(--muted); border-bottom: none; border-radius: .3rem .3rem 0 0; }
@media (max-width: 520px) {
  .top { padding: .7rem 1rem; }
  .card { margin: 1rem; padding: 1.5rem 1.25rem; border-radius: 12px; }
  h1 { font-size: 1.35rem; }
  dl.compare, dl.details { grid-template-columns: 1fr; }
  table, thead, tbody, tr, th, td { display: block; }
  thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  td { border: none; padding: .3rem 0; }
  tr { border-bottom: 1px solid var(--border); padding: .6rem 0; }
}
@media (prefers-reduced-motion: no-preference) { button, .button, a { transition: background-color .15s, color .15s; } }
`;
