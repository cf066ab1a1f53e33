% rebase('base.tpl')
<h1>{{hist['name'] or hist['hash']}}</h1>
<p class="muted mono">{{hist['hash']}}</p>
% for t in hist['torrents']:
<p>In <a href="/instances/{{quote(t['instance'])}}">{{t['instance']}}</a>: {{t['state'] or ''}},
 {{'%.1f %%' % (100 * t['progress']) if t['progress'] is not None else ''}}, ratio {{'%.2f' % t['ratio'] if t['ratio'] is not None else '?'}},
 tags {{', '.join(t['tags']) or 'none'}}{{' (gone since ' + w.when(t['gone_at']) + ')' if t['gone_at'] else ''}}.
 Last rule: <b>{{t['last_rule'] or 'none'}}</b> — {{t['last_reason'] or t['rule_words']}}</p>
% end
<h2>History</h2>
<ol class="timeline">
% for e in hist['events']:
<li class="ev ev-{{e['type']}}">
  <time>{{w.when(e['at'])}}</time>
  <span class="kind">{{e['type']}}</span>
  % if e['rule']:
  <span class="rule">{{e['rule']}}</span>
  % end
  <span class="text">{{e['text']}}</span>{{' (dry run)' if e['dry_run'] else ''}}
  <div class="detail muted">{{e['instance']}} · {{e['detail']}}</div>
</li>
% end
</ol>
