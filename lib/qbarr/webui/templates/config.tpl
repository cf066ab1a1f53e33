% rebase('base.tpl')
<h1>Config</h1>
<p class="muted">{{view['path']}} · secrets are shown as ******** (leave them so to keep them; type a new value to change one).
 Saving validates against the configspec, shows the diff, keeps a backup (config.ini.bak-&lt;time&gt;) and applies the change.</p>
% if not view['editable']:
<p class="notice" role="status">This config.ini is managed outside qbarr ([WebUI] ConfigEditable = false): this page shows it and previews changes, but saving is off. Change it where it comes from (for Kubernetes, the qbarr-config Secret) and restart the programs.</p>
% end
% if general:
<div class="error" role="alert">
% for p in general:
<p>{{p}}</p>
% end
</div>
% end
% if diff is not None:
<section class="diff">
<h2>{{'Saved' if saved else 'Changes to save'}}</h2>
<pre id="diff">{{diff or '(no change)'}}</pre>
% if applied:
<ul class="applied">
% for line in applied.get('update', []):
<li>{{line}}</li>
% end
% for name in applied.get('signalled', []):
<li>{{name}}: re-reads its settings (SIGHUP)</li>
% end
% for line in applied.get('notes', []) + applied.get('errors', []):
<li>{{line}}</li>
% end
</ul>
% end
</section>
% end
<form method="post" action="/config" id="config-form">
<input type="hidden" name="csrf" value="{{csrf}}">
<input type="hidden" name="base" value="{{view['base']}}">
% for sec in view['sections']:
<details class="section" {{'open' if sec['title'] in open_sections else ''}}>
<summary>[{{sec['title']}}]</summary>
<div class="fields">
% for f in sec['fields']:
% err = field_errors.get(f['id'])
<label class="field {{'has-error' if err else ''}}">
  <span class="key">{{f['key']}}</span>
  <input type="{{'password' if f['secret'] else 'text'}}" name="f:{{f['id']}}" value="{{submitted.get(f['id'], f['value'] if f['value'] is not None else '')}}" placeholder="{{f['default']}}" data-field="{{f['id']}}" autocomplete="off">
  % if f['help']:
  <span class="help">{{f['help']}}</span>
  % end
  % if err:
  <span class="field-error" role="alert">{{err}}</span>
  % end
</label>
% end
</div>
</details>
% end
<p class="buttons">
  <button type="submit" name="do" value="preview">Preview changes</button>
% if view['editable']:
  <button type="submit" name="do" value="save">Save and apply</button>
% end
</p>
</form>
<details class="raw">
<summary>Edit the whole file</summary>
<form method="post" action="/config">
<input type="hidden" name="csrf" value="{{csrf}}">
<input type="hidden" name="base" value="{{view['base']}}">
<input type="hidden" name="mode" value="raw">
<textarea name="text" rows="30" spellcheck="false">{{raw_text}}</textarea>
<p class="buttons">
  <button type="submit" name="do" value="preview">Preview changes</button>
% if view['editable']:
  <button type="submit" name="do" value="save">Save and apply</button>
% end
</p>
</form>
</details>
