import { readFileSync } from 'node:fs';
const h5 = await import('h5wasm');
await h5.ready;
for (const p of process.argv.slice(2)) {
h5.FS.writeFile('/m.h5', new Uint8Array(readFileSync(p)));
const f = new h5.File('/m.h5','r');
console.log('==', p, 'root attrs', Object.fromEntries(Object.entries(f.attrs).map(([k,a])=>[k,String(a.value).slice(0,80)])));
const walk = (g, path) => { for (const k of g.keys()) { const c = f.get((path? path+'/' : '') + k); const full = (path? path+'/' : '') + k;
  const attrs = Object.keys(c.attrs); if (c.type === 'Group') { console.log('G', full, attrs.length? JSON.stringify(Object.fromEntries(attrs.map(a=>[a, String(c.attrs[a].value).slice(0,60)]))):''); walk(f.get(full), full);} else console.log('D', full, JSON.stringify(c.shape), JSON.stringify(c.dtype), attrs); } };
walk(f, '');
f.close();
}
