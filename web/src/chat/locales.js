export default {
  en: { chat: { title: 'Chat', placeholder: 'The chat screens are coming.' } },
  'zh-CN': { chat: { title: '聊天', placeholder: '聊天界面即将上线。' } },
}
